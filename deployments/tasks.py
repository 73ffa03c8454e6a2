from celery import shared_task

from deployments import runner


@shared_task(name="deployments.tasks.run_deployment_task", acks_late=True)
def run_deployment_task(deployment_id):
    runner.execute(deployment_id)

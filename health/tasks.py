from celery import shared_task

from deployments.models import Deployment
from health.actions import check_deployment, current_deployments

BATCH_SIZE = 200


@shared_task(name="health.tasks.check_all_health_task", ignore_result=True)
def check_all_health_task():
    """Fan out one check task per current deployment, so workers share them."""
    ids = current_deployments().values_list("pk", flat=True).order_by("pk")
    for deployment_id in ids.iterator(chunk_size=BATCH_SIZE):
        check_deployment_health_task.delay(deployment_id)


@shared_task(name="health.tasks.check_deployment_health_task", ignore_result=True)
def check_deployment_health_task(deployment_id):
    deployment = (
        Deployment.objects.select_related("service")
        .filter(pk=deployment_id, is_current=True)
        .first()
    )
    if deployment is not None:
        check_deployment(deployment)

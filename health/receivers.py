from django.db import transaction
from django.dispatch import receiver

from deployments.signals import deployment_succeeded


@receiver(deployment_succeeded)
def check_new_deployment(sender, deployment, **kwargs):
    """Record a first result at once instead of at the next scheduled round."""
    from health.tasks import check_deployment_health_task

    transaction.on_commit(lambda: check_deployment_health_task.delay(deployment.pk))

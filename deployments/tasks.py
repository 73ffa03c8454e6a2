import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from deployments import runner
from deployments.backends import get_backend
from deployments.backends.base import instance_prefix
from deployments.choices import BackendKind, DeploymentStatus
from deployments.models import Deployment

# A deployment's worker beats at least this often while it waits on a gate;
# pulls and starts can be slower, hence the margin on top of the gate timeout.
STALE_MARGIN = timedelta(seconds=120)
# How long a pending deployment may wait for a worker before it is sent to
# the queue again (it also waits while every worker is busy: harmless).
UNCLAIMED_AFTER = timedelta(seconds=120)
# How long after a release was replaced or stopped the reaper may clean up
# after a worker that died before doing so itself.
LEFTOVER_AFTER = timedelta(seconds=120)

logger = logging.getLogger(__name__)


@shared_task(name="deployments.tasks.run_deployment_task", acks_late=True)
def run_deployment_task(deployment_id):
    runner.execute(deployment_id)


@shared_task(name="deployments.tasks.reap_stale_deployments_task", ignore_result=True)
def reap_stale_deployments_task():
    """Clean up after workers that died, so nothing stays stuck.

    Ends running deployments whose worker stopped beating, sends pending
    ones no worker claimed to the queue again, starts queues nothing works
    through, and stops or removes what a dead worker left of replaced
    releases. Each step runs on its own: one failing spares the others.
    """
    now = timezone.now()
    gate = timedelta(seconds=settings.MECH["DEPLOY_HEALTH_TIMEOUT"])
    stale_before = now - gate - STALE_MARGIN
    stale = Deployment.objects.filter(
        status=DeploymentStatus.RUNNING, heartbeat_at__lt=stale_before
    ).values_list("pk", flat=True)
    for deployment_id in list(stale):
        _each(runner.reap, deployment_id, stale_before)
    _each(resend_unclaimed, now - UNCLAIMED_AFTER, now)
    _each(start_stalled_queues)
    _each(retire_superseded, now - LEFTOVER_AFTER)
    _each(remove_stopped_leftovers, now - LEFTOVER_AFTER)


def retire_superseded(replaced_before):
    """Stop releases that were replaced but never stopped.

    A worker that died between making the new release current and stopping
    the old one (blue-green, canary) leaves the old one running; once its
    successor has served for a while, it is stopped here.
    """
    current = Deployment.objects.filter(
        service=OuterRef("service"),
        environment=OuterRef("environment"),
        is_current=True,
        finished_at__lt=replaced_before,
    )
    superseded = Deployment.objects.filter(
        Exists(current),
        status=DeploymentStatus.SUCCEEDED,
        is_current=False,
        stopped_at__isnull=True,
    ).exclude(handle="")
    for deployment in list(superseded):
        log = runner.DeploymentLog(deployment)
        runner.retire(deployment, log)


def remove_stopped_leftovers(stopped_before):
    """Remove stopped containers a worker died before removing.

    Only those of deployments stopped or ended a while ago, so a deployment
    in progress keeps what it will remove itself, and only containers whose
    name matches their deployment in this database: another registry on the
    same engine may use the same deployment numbers.
    """
    if not settings.MECH["DOCKER_HOST"]:
        return
    backend = get_backend(BackendKind.DOCKER)
    leftovers = backend.stopped_instances()
    ended = {
        deployment.pk: deployment
        for deployment in Deployment.objects.filter(
            Q(stopped_at__lt=stopped_before)
            | Q(status=DeploymentStatus.FAILED, finished_at__lt=stopped_before),
            pk__in={deployment_id for _, _, deployment_id in leftovers},
        ).select_related("service", "environment")
    }
    for handle, name, deployment_id in leftovers:
        deployment = ended.get(deployment_id)
        if deployment is None:
            continue
        prefix = instance_prefix(
            deployment.service.slug, deployment.environment.name, deployment.pk
        )
        if name.startswith(prefix):
            backend.discard(handle, lambda message: None)
            logger.info(
                "removed container %s left by deployment %s",
                handle[:12],
                deployment_id,
                extra={"deployment": deployment_id},
            )


def _each(step, *args):
    """Run one step of the reaper; a failing one does not stop the others."""
    try:
        step(*args)
    except Exception:
        logger.exception("reaper step %s failed", step.__name__)


def start_stalled_queues():
    """Start the next queued deployment of pairs where nothing is active.

    Each ending deployment starts the next one itself; this covers a worker
    that died in between.
    """
    from deployments.actions import start_next_queued

    active = Deployment.objects.filter(
        service=OuterRef("service"),
        environment=OuterRef("environment"),
        status__in=DeploymentStatus.active(),
    )
    stalled = (
        Deployment.objects.filter(status=DeploymentStatus.QUEUED)
        .exclude(Exists(active))
        .order_by()
        .values_list("service_id", "environment_id")
        .distinct()
    )
    for service_id, environment_id in list(stalled):
        started = start_next_queued(service_id, environment_id)
        if started is not None:
            logger.warning(
                "deployment %s was queued with nothing running; started",
                started.pk,
                extra={"deployment": started.pk},
            )


def resend_unclaimed(sent_before, now):
    """Queue again pending deployments last sent before ``sent_before``.

    ``heartbeat_at`` of a pending deployment marks when it was last sent
    again, so each is resent at most once per ``UNCLAIMED_AFTER``.
    """
    unclaimed = Deployment.objects.filter(
        Q(heartbeat_at__lt=sent_before)
        | Q(heartbeat_at__isnull=True, created_at__lt=sent_before),
        status=DeploymentStatus.PENDING,
    ).values_list("pk", flat=True)
    for deployment_id in list(unclaimed):
        marked = Deployment.objects.filter(
            pk=deployment_id, status=DeploymentStatus.PENDING
        ).update(heartbeat_at=now)
        if marked:
            logger.warning(
                "deployment %s was not claimed by any worker; sent again",
                deployment_id,
                extra={"deployment": deployment_id},
            )
            run_deployment_task.delay(deployment_id)


@shared_task(name="deployments.tasks.sync_releases_task", ignore_result=True)
def sync_releases_task(service_id):
    """Create releases for the service image's new semver tags."""
    from deployments.releases import sync_releases
    from registry.exceptions import RegistryError
    from services.models import Service

    service = Service.objects.filter(pk=service_id).first()
    if service is None or not service.docker_image:
        return
    try:
        sync_releases(service)
    except RegistryError as exc:
        # An unreachable registry is expected now and then; the next
        # periodic run tries again.
        logger.warning(
            "releases of %s not synced: %s",
            service.slug,
            exc.message,
            extra={"service": service.slug, "code": exc.code},
        )


@shared_task(name="deployments.tasks.sync_all_releases_task", ignore_result=True)
def sync_all_releases_task():
    """Queue a release sync for every service that has a docker image."""
    from services.models import Service

    service_ids = (
        Service.objects.exclude(docker_image="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for service_id in list(service_ids):
        sync_releases_task.delay(service_id)

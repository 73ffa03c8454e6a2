"""Carries out one deployment: start, health-gate, switch, clean up.

Runs inside a Celery task. The new version is started beside the current
one; only when it answers 2xx on its health check does it become current and
the old one is stopped. On any failure the new instance is removed and the
current one is left serving, untouched.
"""

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from deployments import config
from deployments.actions import start_next_queued
from deployments.backends import BackendError, LaunchSpec, get_backend, resolve
from deployments.choices import DeploymentStatus
from deployments.health_gate import wait_until_healthy
from deployments.models import Deployment, DeploymentLogLine
from deployments.signals import deployment_succeeded

logger = logging.getLogger(__name__)


class DeploymentFailed(Exception):
    pass


class DeploymentLog:
    """Appends numbered lines to a deployment's log as they happen."""

    def __init__(self, deployment):
        self.deployment = deployment
        last = deployment.log_lines.aggregate(last=Max("seq"))["last"]
        self.seq = last or 0

    def __call__(self, message):
        self.seq += 1
        DeploymentLogLine.objects.create(
            deployment=self.deployment, seq=self.seq, message=message
        )


def claim(deployment_id):
    """Move a pending deployment to running; False when another worker has it."""
    now = timezone.now()
    claimed = Deployment.objects.filter(
        pk=deployment_id, status=DeploymentStatus.PENDING
    ).update(status=DeploymentStatus.RUNNING, started_at=now, heartbeat_at=now)
    return claimed == 1


def beat(deployment_id):
    """Show the reaper this deployment's worker is alive."""
    Deployment.objects.filter(pk=deployment_id).update(heartbeat_at=timezone.now())


def execute(deployment_id):
    """Run a claimed deployment to its end; safe to call twice for one id."""
    if not claim(deployment_id):
        logger.info("deployment %s is not pending; skipped", deployment_id)
        return
    deployment = Deployment.objects.select_related("service", "environment").get(
        pk=deployment_id
    )
    try:
        _execute(deployment)
    finally:
        start_next_queued(deployment.service_id, deployment.environment_id)


def _execute(deployment):
    log = DeploymentLog(deployment)
    backend = get_backend(deployment.environment.backend)
    deployment.backend = resolve(deployment.environment.backend)
    deployment.save(update_fields=["backend"])
    log(
        f"deploying {deployment.service} {deployment.version} to "
        f"{deployment.environment} with the {deployment.backend} backend"
    )

    instance = None
    try:
        spec = build_spec(deployment)
        instance = backend.start(spec, log)
        _record_instance(deployment, instance)
        _gate(deployment, backend, instance, log, spec.env.values())
    except (BackendError, DeploymentFailed) as exc:
        _fail(deployment, backend, instance, log, str(exc))
        return
    except Exception:
        logger.exception("deployment %s crashed", deployment.pk)
        _fail(deployment, backend, instance, log, "internal error; see worker log")
        return
    previous = _promote(deployment, log)
    deployment_succeeded.send(sender=Deployment, deployment=deployment)
    if previous is not None:
        _retire(previous, log)


def build_spec(deployment):
    service = deployment.service
    values = config.values_for(service, deployment.environment)
    missing = config.missing(service, values)
    if missing:
        raise DeploymentFailed(
            f"required variables have no value: {', '.join(missing)}"
        )
    env = config.injected(service, values)
    deployment.config_fingerprint = config.fingerprint(env)
    deployment.save(update_fields=["config_fingerprint"])
    return LaunchSpec(
        deployment_id=deployment.pk,
        service=service.slug,
        environment=deployment.environment.name,
        version=deployment.version,
        preferred_port=service.port,
        image=service.image_reference(deployment.version)
        if service.docker_image
        else "",
        command=service.process_command,
        directory=_process_directory(service),
        env=env,
    )


MIN_REDACTED_LENGTH = 4


def redact(text, values):
    """Mask every configured value in a service's own output before logging it.

    Services may print their environment; values shorter than four characters
    are left alone since masking them would garble the text.
    """
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= MIN_REDACTED_LENGTH:
            text = text.replace(value, "********")
    return text


def _process_directory(service):
    directory = Path(service.process_directory or ".")
    if directory.is_absolute() or not service.source_path:
        return str(directory)
    return str(Path(service.source_path).parent / directory)


def _record_instance(deployment, instance):
    deployment.handle = instance.handle
    deployment.address = instance.address
    deployment.save(update_fields=["handle", "address"])


def _gate(deployment, backend, instance, log, spec_values=()):
    path = deployment.service.health_check_path
    timeout = settings.MECH["DEPLOY_HEALTH_TIMEOUT"]
    log(f"waiting up to {timeout:g}s for 2xx from {path} on {instance.address}")

    def still_running():
        beat(deployment.pk)
        return backend.is_running(instance.handle)

    result = wait_until_healthy(instance.address, path, timeout, still_running)
    if not result.ok:
        tail = redact(backend.output_tail(instance.handle), spec_values)
        if tail:
            log("last output of the new version:\n" + tail)
        raise DeploymentFailed(f"health check {path} failed: {result.error}")
    log(f"healthy: {path} answered {result.status_code} in {result.latency_ms} ms")


def _fail(deployment, backend, instance, log, reason):
    log(f"failed: {reason}")
    if instance is not None:
        try:
            backend.stop(instance.handle, log)
        except BackendError as exc:
            log(f"could not remove the failed instance: {exc}")
    current = _current(deployment)
    if current is not None:
        log(f"{current.version} (deployment #{current.pk}) is still serving")
    Deployment.objects.filter(pk=deployment.pk).update(
        status=DeploymentStatus.FAILED,
        error=reason,
        finished_at=timezone.now(),
        stopped_at=timezone.now() if instance is not None else None,
    )


def _current(deployment):
    return Deployment.objects.filter(
        service=deployment.service,
        environment=deployment.environment,
        is_current=True,
    ).first()


@transaction.atomic
def _promote(deployment, log):
    """Make ``deployment`` current; return the one it replaces, if any."""
    previous = (
        Deployment.objects.select_for_update()
        .filter(
            service=deployment.service,
            environment=deployment.environment,
            is_current=True,
        )
        .exclude(pk=deployment.pk)
        .first()
    )
    if previous is not None:
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    Deployment.objects.filter(pk=deployment.pk).update(
        is_current=True,
        status=DeploymentStatus.SUCCEEDED,
        finished_at=timezone.now(),
    )
    log(f"{deployment.version} is now serving on {deployment.address}")
    return previous


def _retire(previous, log):
    backend = get_backend(previous.backend or previous.environment.backend)
    try:
        backend.stop(previous.handle, log)
    except BackendError as exc:
        log(f"could not stop {previous.version} (#{previous.pk}): {exc}")
        return
    Deployment.objects.filter(pk=previous.pk).update(stopped_at=timezone.now())
    log(f"stopped the previous version {previous.version} (#{previous.pk})")


def reap(deployment_id, stale_before):
    """Fail a running deployment whose worker stopped beating; False if alive.

    The half-started instance is removed; the current release, which the
    deployment never replaced, keeps serving.
    """
    reason = "the worker running this deployment stopped responding"
    failed = Deployment.objects.filter(
        pk=deployment_id,
        status=DeploymentStatus.RUNNING,
        heartbeat_at__lt=stale_before,
    ).update(status=DeploymentStatus.FAILED, error=reason, finished_at=timezone.now())
    if not failed:
        return False
    deployment = Deployment.objects.select_related("service", "environment").get(
        pk=deployment_id
    )
    log = DeploymentLog(deployment)
    log(f"failed: {reason}")
    if deployment.handle and not deployment.is_current:
        backend = get_backend(deployment.backend or deployment.environment.backend)
        try:
            backend.stop(deployment.handle, log)
        except BackendError as exc:
            log(f"could not remove the unfinished instance: {exc}")
    start_next_queued(deployment.service_id, deployment.environment_id)
    return True

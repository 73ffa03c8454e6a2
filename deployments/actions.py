"""Deployment operations shared by the API, the admin and the commands."""

import hashlib
import json
import logging
import re

from django.db import IntegrityError, transaction

from accounts.permissions import check_can_deploy
from deployments import config
from deployments.backends import resolve
from deployments.choices import BackendKind, DeploymentStatus, Trigger
from deployments.models import Deployment
from registry.exceptions import Conflict, RegistryError

logger = logging.getLogger(__name__)

VERSION_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")


class DeploymentInProgress(Conflict):
    code = "deployment_in_progress"

    def __init__(self, active):
        super().__init__(
            f"deployment #{active.pk} of {active.service} to {active.environment} "
            f"is {active.status}; wait for it or ask to queue behind it",
            details={"activeDeploymentId": active.pk},
        )
        self.active = active


def missing_variables(service, environment):
    """Required variables that have no value for this environment, in order."""
    return config.missing(service, config.values_for(service, environment))


def validate_request(service, environment, version):
    """Refuse, before anything is recorded, a deployment that cannot work."""
    if not VERSION_PATTERN.match(version or ""):
        raise RegistryError(
            f"{version!r} is not a valid version: use letters, digits, '.', '_', "
            "'+' and '-', starting with a letter or digit",
            code="invalid_version",
        )
    backend = resolve(environment.backend)
    if backend == BackendKind.DOCKER and not service.docker_image:
        raise RegistryError(
            f"{environment} deploys with docker but {service} has no docker image",
            code="no_image",
        )
    if backend == BackendKind.PROCESS and not service.process_command:
        raise RegistryError(
            f"{environment} runs local processes but {service} has no "
            "process.command in its definition",
            code="no_command",
        )
    missing = missing_variables(service, environment)
    if missing:
        raise RegistryError(
            f"required variables have no value in {environment}: {', '.join(missing)}",
            code="missing_variables",
            details={"missing": missing},
        )


def _fingerprint_request(service, environment, version, queue):
    body = json.dumps([service.pk, environment.pk, version, queue])
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(user, idempotency_key, fingerprint):
    """The deployment an earlier request with this key created, if any."""
    if not idempotency_key or user is None:
        return None
    earlier = Deployment.objects.filter(
        requested_by=user, idempotency_key=idempotency_key
    ).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a different request",
            code="idempotency_key_reused",
        )
    return earlier


def active_deployment(service, environment):
    return Deployment.objects.filter(
        service=service,
        environment=environment,
        status__in=DeploymentStatus.active(),
    ).first()


def request_deployment(
    service,
    environment,
    version,
    user=None,
    trigger=Trigger.API,
    *,
    queue=False,
    idempotency_key="",
):
    """Record a deployment and queue it for a worker once committed.

    Returns the deployment; its ``created`` attribute is False when an
    earlier request with the same idempotency key is answered again. With
    ``queue`` a request behind an active deployment waits instead of failing.
    The user must be allowed to deploy the service to the environment
    (``accounts.permissions``); ``user=None`` is the command line.
    """
    check_can_deploy(user, service, environment)
    user = user if user is not None and user.is_authenticated else None
    fingerprint = _fingerprint_request(service, environment, version, queue)
    earlier = _replay(user, idempotency_key, fingerprint)
    if earlier is not None:
        earlier.created = False
        return earlier

    validate_request(service, environment, version)
    try:
        deployment = _create(
            service,
            environment,
            version,
            user,
            trigger,
            queue,
            idempotency_key,
            fingerprint,
        )
    except IntegrityError:
        earlier = _replay(user, idempotency_key, fingerprint)
        if earlier is not None:
            earlier.created = False
            return earlier
        active = active_deployment(service, environment)
        if active is None:
            raise
        raise DeploymentInProgress(active)
    logger.info(
        "deployment %s requested: %s %s to %s",
        deployment.pk,
        service.slug,
        version,
        environment.name,
        extra={"deployment": deployment.pk, "status": deployment.status},
    )
    deployment.created = True
    return deployment


def _create(
    service, environment, version, user, trigger, queue, idempotency_key, fingerprint
):
    from deployments.tasks import run_deployment_task

    with transaction.atomic():
        active = active_deployment(service, environment)
        if active is not None and not queue:
            raise DeploymentInProgress(active)
        status = DeploymentStatus.QUEUED if active else DeploymentStatus.PENDING
        deployment = Deployment.objects.create(
            service=service,
            environment=environment,
            version=version,
            trigger=trigger,
            requested_by=user,
            status=status,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
        )
        if status == DeploymentStatus.PENDING:
            transaction.on_commit(lambda: run_deployment_task.delay(deployment.pk))
    return deployment


def start_next_queued(service_id, environment_id):
    """Promote the oldest queued deployment of a pair to pending and queue it.

    Called when a deployment of the pair ends; the partial unique constraint
    on active deployments makes a concurrent promotion fail harmlessly.
    """
    from deployments.tasks import run_deployment_task

    nxt = (
        Deployment.objects.filter(
            service_id=service_id,
            environment_id=environment_id,
            status=DeploymentStatus.QUEUED,
        )
        .order_by("created_at", "pk")
        .first()
    )
    if nxt is None:
        return None
    try:
        with transaction.atomic():
            updated = Deployment.objects.filter(
                pk=nxt.pk, status=DeploymentStatus.QUEUED
            ).update(status=DeploymentStatus.PENDING)
            if updated:
                transaction.on_commit(lambda: run_deployment_task.delay(nxt.pk))
    except IntegrityError:
        return None
    return nxt if updated else None


def plan_deployment(service, environment, version):
    """What a deployment would change, without changing anything.

    Values are never shown: changed keys are found by comparing keyed hashes.
    """
    values = config.values_for(service, environment)
    current = Deployment.objects.filter(
        service=service, environment=environment, is_current=True
    ).first()
    image = service.image_reference(version) if service.docker_image else ""
    new_fingerprint = config.fingerprint(config.injected(service, values))
    old_fingerprint = current.config_fingerprint if current else {}
    problems = []
    try:
        validate_request(service, environment, version)
    except RegistryError as exc:
        problems.append({"code": exc.code, "message": exc.message})
    return {
        "serviceId": service.slug,
        "environment": environment.name,
        "backend": resolve(environment.backend),
        "version": {"from": current.version if current else None, "to": version},
        "image": {
            "from": service.image_reference(current.version)
            if current and service.docker_image
            else None,
            "to": image or None,
        },
        "variables": config.diff(old_fingerprint, new_fingerprint),
        "missingRequired": config.missing(service, values),
        "domains": list(service.domains),
        "healthCheck": service.health_check_path,
        "problems": problems,
        "wouldDeploy": not problems,
    }


@transaction.atomic
def set_variables(service, environment, items):
    """Create or replace configuration values; returns the keys written.

    ``items`` holds dicts with ``key``, ``value`` and ``secret``.
    """
    from deployments.models import ConfigValue

    for item in items:
        ConfigValue.objects.update_or_create(
            service=service,
            environment=environment,
            key=item["key"],
            defaults={"value": item["value"], "secret": item["secret"]},
        )
    return [item["key"] for item in items]


def delete_variable(service, environment, key):
    from deployments.models import ConfigValue

    deleted, _ = ConfigValue.objects.filter(
        service=service, environment=environment, key=key
    ).delete()
    return bool(deleted)

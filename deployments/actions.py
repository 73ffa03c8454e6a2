"""Deployment operations shared by the API, the admin and the commands."""

import logging
import re

from django.db import transaction

from deployments.backends import resolve
from deployments.choices import BackendKind, Trigger
from deployments.models import ConfigValue, Deployment
from registry.exceptions import RegistryError

logger = logging.getLogger(__name__)

VERSION_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")


def missing_variables(service, environment):
    """Required variables that have no value for this environment, in order."""
    present = set(
        ConfigValue.objects.filter(
            service=service, environment=environment
        ).values_list("key", flat=True)
    )
    return [name for name in service.required_env if name not in present]


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


def request_deployment(service, environment, version, user=None, trigger=Trigger.API):
    """Record a pending deployment and queue it for a worker once committed."""
    from deployments.tasks import run_deployment_task

    validate_request(service, environment, version)
    with transaction.atomic():
        deployment = Deployment.objects.create(
            service=service,
            environment=environment,
            version=version,
            trigger=trigger,
            requested_by=user if user and user.is_authenticated else None,
        )
        transaction.on_commit(lambda: run_deployment_task.delay(deployment.pk))
    logger.info(
        "deployment %s requested: %s %s to %s",
        deployment.pk,
        service.slug,
        version,
        environment.name,
        extra={"deployment": deployment.pk},
    )
    return deployment

"""Deployment operations shared by the API, the admin and the commands.

Deploys, rollbacks and promotions all end in ``submit``: one place that
checks permission, answers a repeated Idempotency-Key, keeps at most one
active deployment per service and environment, and queues the work for a
worker once the transaction commits.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.permissions import check_can_deploy
from deployments import config, ledger, releases, traffic
from deployments.backends import get_backend, resolve
from deployments.choices import (
    BackendKind,
    DeploymentKind,
    DeploymentStatus,
    LedgerKind,
    Strategy,
    Trigger,
)
from deployments.models import Deployment
from registry.exceptions import Conflict, NotFound, RegistryError

logger = logging.getLogger(__name__)

VERSION_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")
DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")


class DeploymentInProgress(Conflict):
    code = "deployment_in_progress"

    def __init__(self, active):
        super().__init__(
            f"deployment #{active.pk} of {active.service} to {active.environment} "
            f"is {active.status}; wait for it or ask to queue behind it",
            details={"activeDeploymentId": active.pk},
        )
        self.active = active


@dataclass
class Plan:
    """What one deployment will run; built by deploy, rollback or promotion."""

    service: object
    environment: object
    release: object
    kind: str = DeploymentKind.DEPLOY
    strategy: str = ""
    reason: str = ""
    rollback_of: object = None
    override_bad_release: bool = False
    # A promotion runs exactly the image reference that serves in its source.
    source_image: str = ""

    @property
    def image(self):
        if resolve(self.environment.backend) != BackendKind.DOCKER:
            return ""
        return (
            self.source_image
            or self.release.pinned_image
            or self.service.image_reference(self.release.version)
        )


def missing_variables(service, environment):
    """Required variables that have no value for this environment, in order."""
    return config.missing(service, config.values_for(service, environment))


def check_version(version):
    if DIGEST_PATTERN.match(version or "") or VERSION_PATTERN.match(version or ""):
        return
    raise RegistryError(
        f"{version!r} is neither a version (letters, digits, '.', '_', '+', '-') "
        "nor an image digest (sha256:…)",
        code="invalid_version",
    )


def validate_target(service, environment):
    """Refuse, before anything is recorded, a deployment that cannot work."""
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


def validate_request(service, environment, version):
    check_version(version)
    validate_target(service, environment)


def release_for(service, environment, version):
    """The release a deploy to ``environment`` runs.

    Only the docker backend runs images, so only then is the registry asked
    to resolve the version to a digest; elsewhere the release is recorded
    without one.
    """
    if resolve(environment.backend) == BackendKind.DOCKER:
        return releases.resolve_release(service, version)
    if DIGEST_PATTERN.match(version):
        raise RegistryError(
            f"{environment} does not run images, so it cannot deploy a digest",
            code="digest_needs_docker",
        )
    return releases.record_release(service, version)


def choose_strategy(service, environment, strategy):
    strategy = Strategy(strategy or environment.strategy)
    if strategy == Strategy.CANARY and not traffic.enabled_for(service):
        raise RegistryError(
            f"a canary needs nginx in front of {service}: enable deployment.nginx "
            "and list its domains",
            code="canary_needs_nginx",
        )
    return strategy


def check_release(plan):
    releases.check_not_bad(plan.release, override=plan.override_bad_release)
    image = plan.image
    if image and not get_backend(plan.environment.backend).image_available(image):
        raise RegistryError(
            f"image {image} no longer exists; nothing was stopped",
            code="image_gone",
        )


def request_deployment(
    service,
    environment,
    version,
    user=None,
    trigger=Trigger.API,
    *,
    queue=False,
    idempotency_key="",
    strategy=None,
    override_bad_release=False,
    reason="",
):
    """Record a deployment of ``version`` (or a digest) and queue it.

    Returns the deployment; its ``created`` attribute is False when an
    earlier request with the same idempotency key is answered again. With
    ``queue`` a request behind an active deployment waits instead of failing.
    The user must be allowed to deploy the service to the environment
    (``accounts.permissions``); ``user=None`` is the command line. Resolving
    the version may ask the image registry for its digest.
    """
    check_can_deploy(user, service, environment)
    check_version(version)
    request = [version, strategy, override_bad_release, reason]
    earlier = _replay(user, idempotency_key, service, environment, request, queue)
    if earlier is not None:
        return earlier
    validate_target(service, environment)
    plan = Plan(
        service=service,
        environment=environment,
        release=release_for(service, environment, version),
        strategy=choose_strategy(service, environment, strategy),
        reason=reason,
        override_bad_release=override_bad_release,
    )
    return submit(plan, user, trigger, queue, idempotency_key, request)


def rollback_deployment(deployment, user=None, trigger=Trigger.API, reason=""):
    """Bring back the release that served before ``deployment`` became current."""
    check_can_deploy(user, deployment.service, deployment.environment)
    if deployment.status != DeploymentStatus.SUCCEEDED:
        raise RegistryError(
            f"deployment #{deployment.pk} is {deployment.status}: it never replaced "
            "what was serving, so there is nothing to roll back",
            code="not_rolled_out",
        )
    before = (
        Deployment.objects.filter(
            service=deployment.service,
            environment=deployment.environment,
            status=DeploymentStatus.SUCCEEDED,
            finished_at__lt=deployment.finished_at or deployment.created_at,
        )
        .exclude(pk=deployment.pk)
        .exclude(version=deployment.version)
        .select_related("release")
        .order_by("-finished_at")
        .first()
    )
    if before is None:
        raise RegistryError(
            f"nothing served {deployment.service} in {deployment.environment} "
            f"before deployment #{deployment.pk}",
            code="nothing_to_roll_back_to",
        )
    return _rollback(before, deployment, user, trigger, reason)


def rollback_to(
    service, environment, version, user=None, trigger=Trigger.API, reason=""
):
    """Roll ``service`` in ``environment`` back to an earlier release."""
    check_can_deploy(user, service, environment)
    earlier = (
        Deployment.objects.filter(
            service=service,
            environment=environment,
            status=DeploymentStatus.SUCCEEDED,
            version=version,
        )
        .select_related("release")
        .order_by("-finished_at")
        .first()
    )
    if earlier is None:
        raise NotFound(
            f"{service} {version} never served in {environment}",
            code="release_never_served",
        )
    current = Deployment.objects.filter(
        service=service, environment=environment, is_current=True
    ).first()
    return _rollback(earlier, current, user, trigger, reason)


def _rollback(target, rolled_back, user, trigger, reason):
    check_can_deploy(user, target.service, target.environment)
    validate_target(target.service, target.environment)
    release = target.release or release_for(
        target.service, target.environment, target.version
    )
    plan = Plan(
        service=target.service,
        environment=target.environment,
        release=release,
        kind=DeploymentKind.ROLLBACK,
        strategy=Strategy.BLUE_GREEN,
        reason=reason or f"roll back to {target.version}",
        rollback_of=rolled_back,
        # Going back to what served before is allowed even if it was marked bad.
        override_bad_release=True,
    )
    return submit(plan, user, trigger)


def promote(service, source, target, user=None, trigger=Trigger.API, reason=""):
    """Deploy to ``target`` exactly the release serving in ``source``.

    The same image digest runs, and ``target`` must set the same non-secret
    configuration keys as ``source``, so the release meets the same shape of
    configuration it was tested with.
    """
    check_can_deploy(user, service, target)
    serving = (
        Deployment.objects.filter(service=service, environment=source, is_current=True)
        .select_related("release")
        .first()
    )
    if serving is None:
        raise RegistryError(
            f"nothing serves {service} in {source} to promote",
            code="nothing_to_promote",
        )
    _check_same_keys(service, source, target)
    validate_target(service, target)
    release = serving.release or release_for(service, source, serving.version)
    plan = Plan(
        service=service,
        environment=target,
        release=release,
        kind=DeploymentKind.PROMOTION,
        strategy=choose_strategy(service, target, None),
        reason=reason or f"promoted from {source} (#{serving.pk})",
    )
    plan.source_image = serving.image
    return submit(plan, user, trigger)


def _check_same_keys(service, source, target):
    def keys(environment):
        return set(
            service.config_values.filter(
                environment=environment, secret=False
            ).values_list("key", flat=True)
        )

    only_source, only_target = keys(source) - keys(target), keys(target) - keys(source)
    if only_source or only_target:
        raise RegistryError(
            f"{source} and {target} set different non-secret keys for {service}",
            code="config_mismatch",
            details={
                "missingInTarget": sorted(only_source),
                "extraInTarget": sorted(only_target),
            },
        )


def _fingerprint(service, environment, request, queue):
    body = json.dumps([service.pk, environment.pk, request, queue])
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(user, idempotency_key, service, environment, request, queue):
    """The deployment an earlier request with this key created, if any."""
    if not idempotency_key or user is None or not user.is_authenticated:
        return None
    earlier = Deployment.objects.filter(
        requested_by=user, idempotency_key=idempotency_key
    ).first()
    if earlier is None:
        return None
    if earlier.request_fingerprint != _fingerprint(
        service, environment, request, queue
    ):
        raise Conflict(
            "this Idempotency-Key was used for a different request",
            code="idempotency_key_reused",
        )
    earlier.created = False
    return earlier


def active_deployment(service, environment):
    return Deployment.objects.filter(
        service=service,
        environment=environment,
        status__in=DeploymentStatus.active(),
    ).first()


def submit(plan, user, trigger, queue=False, idempotency_key="", request=None):
    """Record the planned deployment and queue it once committed."""
    check_release(plan)
    user = user if user is not None and user.is_authenticated else None
    fingerprint = ""
    if idempotency_key and user is not None:
        fingerprint = _fingerprint(plan.service, plan.environment, request, queue)
    else:
        idempotency_key = ""
    try:
        deployment = _create(plan, user, trigger, queue, idempotency_key, fingerprint)
    except IntegrityError:
        earlier = (
            Deployment.objects.filter(
                requested_by=user, idempotency_key=idempotency_key
            )
            .exclude(idempotency_key="")
            .first()
        )
        if earlier is not None:
            earlier.created = False
            return earlier
        active = active_deployment(plan.service, plan.environment)
        if active is None:
            raise
        if not queue:
            raise DeploymentInProgress(active)
        # Another request took the pending slot at the same instant: this
        # one queues behind it, as asked.
        deployment = _create(plan, user, trigger, queue, idempotency_key, fingerprint)
    logger.info(
        "%s %s requested: %s %s to %s",
        plan.kind,
        deployment.pk,
        plan.service.slug,
        plan.release.version,
        plan.environment.name,
        extra={"deployment": deployment.pk, "status": deployment.status},
    )
    deployment.created = True
    return deployment


def _create(plan, user, trigger, queue, idempotency_key, fingerprint):
    from deployments.tasks import run_deployment_task

    with transaction.atomic():
        active = active_deployment(plan.service, plan.environment)
        # Deployments already queued go first, even in the instant between
        # one ending and the next being started.
        ahead = active or oldest_queued(plan.service, plan.environment)
        if ahead is not None and not queue:
            raise DeploymentInProgress(ahead)
        status = DeploymentStatus.QUEUED if ahead else DeploymentStatus.PENDING
        deployment = Deployment.objects.create(
            service=plan.service,
            environment=plan.environment,
            version=plan.release.version,
            release=plan.release,
            image=plan.image,
            kind=plan.kind,
            strategy=plan.strategy,
            reason=plan.reason[:500],
            rollback_of=plan.rollback_of,
            override_bad_release=plan.override_bad_release and plan.release.is_bad,
            trigger=trigger,
            requested_by=user,
            status=status,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
        )
        if status == DeploymentStatus.PENDING:
            transaction.on_commit(lambda: run_deployment_task.delay(deployment.pk))
        elif active is None:
            # Queued ones with nothing running: start the oldest now.
            service_id, environment_id = plan.service.pk, plan.environment.pk
            transaction.on_commit(lambda: start_next_queued(service_id, environment_id))
    return deployment


def oldest_queued(service, environment):
    return (
        Deployment.objects.filter(
            service=service, environment=environment, status=DeploymentStatus.QUEUED
        )
        .order_by("created_at", "pk")
        .first()
    )


def start_next_queued(service_id, environment_id):
    """Promote the oldest queued deployment of a pair to pending and queue it.

    Called when a deployment of the pair ends; the partial unique constraint
    on active deployments makes a concurrent promotion fail harmlessly.
    """
    from deployments.tasks import run_deployment_task

    nxt = oldest_queued(service_id, environment_id)
    if nxt is None:
        return None
    try:
        with transaction.atomic():
            # heartbeat_at of a pending deployment: when it was last sent.
            updated = Deployment.objects.filter(
                pk=nxt.pk, status=DeploymentStatus.QUEUED
            ).update(status=DeploymentStatus.PENDING, heartbeat_at=timezone.now())
            if updated:
                transaction.on_commit(lambda: run_deployment_task.delay(nxt.pk))
    except IntegrityError:
        return None
    return nxt if updated else None


def plan_deployment(
    service, environment, version, strategy=None, override_bad_release=False
):
    """What a deployment would change, without changing anything.

    Values are never shown: changed keys are found by comparing keyed hashes.
    Touches no instance; may ask the image registry for the version's digest.
    """
    values = config.values_for(service, environment)
    current = Deployment.objects.filter(
        service=service, environment=environment, is_current=True
    ).first()
    new_fingerprint = config.fingerprint(config.injected(service, values))
    old_fingerprint = current.config_fingerprint if current else {}
    # Each part is planned on its own, so one problem hides none of the rest.
    problems = []
    image = _checked(problems, _planned_image, service, environment, version)
    _checked(problems, _check_not_bad, service, version, override_bad_release)
    _checked(problems, validate_target, service, environment)
    chosen = _checked(problems, choose_strategy, service, environment, strategy)
    return {
        "serviceId": service.slug,
        "environment": environment.name,
        "backend": resolve(environment.backend),
        "strategy": chosen,
        "version": {"from": current.version if current else None, "to": version},
        "image": {"from": (current.image or None) if current else None, "to": image},
        "variables": config.diff(old_fingerprint, new_fingerprint),
        "missingRequired": config.missing(service, values),
        "domains": list(service.domains),
        "healthCheck": service.health_check_path,
        "problems": problems,
        "wouldDeploy": not problems,
    }


def _checked(problems, step, *args):
    """``step(*args)``, or None with its refusal added to ``problems``."""
    try:
        return step(*args)
    except RegistryError as exc:
        problems.append({"code": exc.code, "message": exc.message})
        return None


def _check_not_bad(service, version, override_bad_release):
    release = releases.find_release(service, version)
    if release is not None:
        releases.check_not_bad(release, override=override_bad_release)


def _planned_image(service, environment, version):
    """The image a deploy would run, without recording a new release."""
    check_version(version)
    if resolve(environment.backend) != BackendKind.DOCKER:
        return None
    release = releases.find_release(service, version)
    if release is not None and release.pinned_image:
        return release.pinned_image
    return service.image_reference(version)


@transaction.atomic
def set_variables(service, environment, items, user=None, trigger=Trigger.API):
    """Create or replace configuration values; returns the keys written.

    ``items`` holds dicts with ``key``, ``value`` and ``secret``. The change
    takes the next ledger number; the ledger never holds values.
    """
    from deployments.models import ConfigValue

    for item in items:
        ConfigValue.objects.update_or_create(
            service=service,
            environment=environment,
            key=item["key"],
            defaults={"value": item["value"], "secret": item["secret"]},
        )
    keys = [item["key"] for item in items]
    _record_config_change(service, environment, user, trigger, f"set {', '.join(keys)}")
    return keys


@transaction.atomic
def delete_variable(service, environment, key, user=None, trigger=Trigger.API):
    from deployments.models import ConfigValue

    deleted, _ = ConfigValue.objects.filter(
        service=service, environment=environment, key=key
    ).delete()
    if deleted:
        _record_config_change(service, environment, user, trigger, f"removed {key}")
    return bool(deleted)


def _record_config_change(service, environment, user, trigger, reason):
    user = user if user is not None and user.is_authenticated else None
    ledger.record(
        service,
        environment,
        LedgerKind.CONFIG,
        actor=user,
        actor_label=user.get_username() if user else trigger,
        trigger=trigger,
        reason=reason[:500],
    )

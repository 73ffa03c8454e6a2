"""Carries out one deployment: start, health-gate, shift traffic, clean up.

Runs inside a Celery task. ``execute`` claims the deployment, builds a
``Rollout`` and hands it to the deployment's strategy (``strategies``). Any
failure ends in ``Rollout.fail``, which removes the new instance, returns
traffic to the release that served before and, when the new release failed
its health gate, marks that release bad. If the old instance was already
stopped (the recreate strategy), the previous release is started again as a
recorded rollback deployment.
"""

import logging
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from deployments import config, traffic
from deployments.actions import start_next_queued
from deployments.backends import (
    BackendError,
    Instance,
    LaunchSpec,
    get_backend,
    resolve,
)
from deployments.backends.base import pick_port
from deployments.choices import (
    BackendKind,
    DeploymentKind,
    DeploymentStatus,
    LedgerKind,
    Trigger,
)
from deployments.health_gate import wait_until_healthy
from deployments.models import Deployment, DeploymentLogLine
from deployments.signals import deployment_succeeded
from services.models import Service

logger = logging.getLogger(__name__)

MIN_REDACTED_LENGTH = 4


class DeploymentFailed(Exception):
    """The deployment cannot go on; the message is shown to users."""


class HealthGateFailed(DeploymentFailed):
    """The new release started but never became healthy: the release is bad."""


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


def claim(deployment_id, **progress):
    """Move a pending deployment to running; False when another worker has it.

    ``progress`` are further fields stored by the same UPDATE.
    """
    now = timezone.now()
    claimed = Deployment.objects.filter(
        pk=deployment_id, status=DeploymentStatus.PENDING
    ).update(
        status=DeploymentStatus.RUNNING, started_at=now, heartbeat_at=now, **progress
    )
    return claimed == 1


def beat(deployment_id):
    """Show the reaper this deployment's worker is alive."""
    Deployment.objects.filter(pk=deployment_id).update(heartbeat_at=timezone.now())


def execute(deployment_id):
    """Run a claimed deployment to its end; safe to call twice for one id."""
    from deployments.strategies import run_strategy

    deployment = (
        Deployment.objects.select_related(
            "service", "environment", "release", "requested_by"
        )
        .filter(pk=deployment_id)
        .first()
    )
    backend = deployment and resolve(deployment.environment.backend)
    if deployment is None or not claim(deployment_id, backend=backend):
        logger.info("deployment %s is not pending; skipped", deployment_id)
        return
    deployment.backend = backend
    if _release_turned_bad(deployment):
        return
    rollout = Rollout(deployment)
    try:
        run_strategy(rollout)
    except DeploymentFailed as exc:
        rollout.fail(str(exc), bad_release=isinstance(exc, HealthGateFailed))
    except (BackendError, traffic.TrafficError) as exc:
        rollout.fail(str(exc))
    except Exception:
        logger.exception("deployment %s crashed", deployment_id)
        rollout.fail("internal error; see the worker's log")
    finally:
        start_next_queued(deployment.service_id, deployment.environment_id)


def _release_turned_bad(deployment):
    """End a deployment whose release was marked bad while it waited.

    A request for a bad release is refused unless it overrides; one that
    was queued before its release failed elsewhere is ended here instead.
    """
    release = deployment.release
    if (
        release is None
        or not release.is_bad
        or deployment.override_bad_release
        or deployment.trigger == Trigger.SYSTEM
    ):
        return False
    reason = (
        f"release {release.version} was marked bad while this deployment waited "
        f"({release.bad_reason}); deploy it again with overrideBadRelease to "
        "run it anyway"
    )
    DeploymentLog(deployment)(f"failed: {reason}")
    Deployment.objects.filter(pk=deployment.pk).update(
        status=DeploymentStatus.FAILED, error=reason, finished_at=timezone.now()
    )
    start_next_queued(deployment.service_id, deployment.environment_id)
    return True


class Rollout:
    """One deployment in progress: the steps strategies are made of."""

    def __init__(self, deployment):
        self.deployment = deployment
        self.service = deployment.service
        self.environment = deployment.environment
        self.log = DeploymentLog(deployment)
        self.backend = get_backend(self.environment.backend)
        self.previous = current_deployment(self.service, self.environment)
        self.instance = None
        self.spec = None
        self._halting = None

    @property
    def routed(self):
        return traffic.enabled_for(self.service)

    @property
    def previous_running(self):
        return self.previous is not None and self.previous.stopped_at is None

    def start_new(self):
        """Start the new release and record where it listens."""
        self.prepare_new()
        self.launch_new()

    def prepare_new(self, port=None, before_create=None):
        """Ready the new release without running it (see ``Backend.prepare``).

        Without ``port``, a port is reserved for it first (``reserve_port``).
        """
        self.spec = build_spec(self.deployment)
        if port is None:
            port = reserve_port(self.deployment, self.spec.preferred_port)
        self.prepared = self.backend.prepare(self.spec, self.log, port, before_create)
        self.deployment.address = self.prepared.address
        if self.prepared.handle:
            # Known from here on, so a failure removes it, and recorded, so
            # the reaper removes it should this worker die before it runs.
            self.instance = Instance(self.prepared.handle, self.prepared.address)
            self.deployment.handle = self.prepared.handle
        _record(self.deployment, "handle", "address")

    def launch_new(self):
        self.instance = self.backend.launch(self.prepared, self.log)
        deployment = self.deployment
        deployment.handle = self.instance.handle
        deployment.address = self.instance.address
        deployment.image = self.spec.image
        if self.instance.digest and "@" not in self.spec.image:
            # A tag and a digest together name exactly the image that ran.
            deployment.image = f"{self.spec.image}@{self.instance.digest}"
        _record(deployment, "handle", "address", "image", "config_fingerprint")

    def gate(self):
        """Wait for 2xx on the health check; raise ``HealthGateFailed`` if not."""
        path = self.service.health_check_path
        timeout = settings.MECH["DEPLOY_HEALTH_TIMEOUT"]
        address, handle = self.instance.address, self.instance.handle
        self.log(f"waiting up to {timeout:g}s for 2xx from {path} on {address}")

        def still_running():
            beat(self.deployment.pk)
            return self.backend.is_running(handle)

        result = wait_until_healthy(address, path, timeout, still_running)
        if not result.ok:
            tail = self.backend.output_tail(handle)
            tail = redact(tail, self.spec.env.values())
            if tail:
                self.log("last output of the new release:\n" + tail)
            raise HealthGateFailed(f"health check {path} failed: {result.error}")
        self.log(
            f"healthy: {path} answered {result.status_code} in {result.latency_ms} ms"
        )

    def route(self, weighted):
        """Send traffic to ``[(address, percent), ...]`` when nginx fronts it."""
        if not self.routed:
            return
        traffic.set_upstreams(self.service, self.environment, weighted)
        shares = ", ".join(f"{address} {weight}%" for address, weight in weighted)
        self.log(f"traffic: {shares}")

    def begin_halt_previous(self):
        """Begin stopping the serving release; ``halt_previous`` waits for it."""
        previous = self.previous
        if previous is None or previous.stopped_at is not None:
            return
        # Recorded before the stop: should this worker die from here on, the
        # reaper sees that the release may be down and restores it.
        previous.stopped_at = timezone.now()
        Deployment.objects.filter(pk=previous.pk).update(stopped_at=previous.stopped_at)
        self.log(f"stopping {previous.version} first (recreate)")
        backend = _backend_of(previous)
        self._halting = backend.begin_halt(
            previous.handle, self.log, port=port_of(previous)
        )

    def halt_previous(self):
        """Stop the serving release; ``discard_previous`` removes it later."""
        self.begin_halt_previous()
        halting, self._halting = self._halting, None
        if halting is not None:
            halting()

    def discard_previous(self):
        if self.previous is not None:
            _discard(self.previous, self.log)

    def promote(self):
        """Make the new release current and record it in the ledger."""
        _promote(self.deployment, self.log)
        deployment_succeeded.send(sender=Deployment, deployment=self.deployment)

    def fail(self, reason, bad_release=False):
        """End the deployment as failed and leave the previous release serving."""
        log, deployment = self.log, self.deployment
        log(f"failed: {reason}")
        if self.previous_running:
            # Traffic goes back before the new instance disappears under it.
            self._route_back()
        if self.instance is not None:
            try:
                self.backend.stop(self.instance.handle, log)
            except BackendError as exc:
                log(f"could not remove the new instance: {exc}")
        if bad_release:
            _mark_bad(deployment, reason, log)
        Deployment.objects.filter(pk=deployment.pk).update(
            status=DeploymentStatus.FAILED,
            error=reason,
            finished_at=timezone.now(),
            stopped_at=timezone.now() if self.instance is not None else None,
            canary_weight=None,
            rolled_back_to=self.previous.version if self.previous_running else "",
        )
        if self.previous is not None and not self.previous_running:
            self._restore_previous()

    def _route_back(self):
        previous = self.previous
        try:
            self.route([(previous.address, 100)])
        except traffic.TrafficError as exc:
            self.log(f"could not route traffic back: {exc}")
        self.log(f"{previous.version} (deployment #{previous.pk}) is still serving")

    def _restore_previous(self):
        """Start the previous release again after recreate stopped it."""
        _discard(self.previous, self.log)
        if self.deployment.kind == DeploymentKind.ROLLBACK:
            self.log("not restoring again: this deployment was itself a rollback")
            return
        self.log(f"restoring {self.previous.version}")
        reason = f"automatic: #{self.deployment.pk} failed"
        restore = _restore(self.deployment, self.previous, reason, self.log)
        if restore is None:
            return
        execute(restore.pk)
        restore.refresh_from_db()
        self.log(f"restore #{restore.pk} of {restore.version}: {restore.status}")


def _record(deployment, *fields):
    """Store the worker's progress on a deployment.

    An UPDATE, not ``save()``: progress is not a change anyone made, so it
    stays out of the audit log, and it costs one query instead of three.
    """
    values = {name: getattr(deployment, name) for name in fields}
    Deployment.objects.filter(pk=deployment.pk).update(**values)


def port_of(deployment):
    """The port in a deployment's ``host:port`` address, or None."""
    host, _, port = deployment.address.rpartition(":")
    return int(port) if host and port.isdigit() else None


def current_deployment(service, environment):
    return Deployment.objects.filter(
        service=service, environment=environment, is_current=True
    ).first()


def create_rollback(failed_or_target, previous, *, reason, trigger, user):
    """A pending rollback deployment that brings back ``previous``'s release."""
    return Deployment.objects.create(
        service=previous.service,
        environment=previous.environment,
        version=previous.version,
        release=previous.release,
        image=previous.image,
        kind=DeploymentKind.ROLLBACK,
        strategy=previous.environment.strategy,
        trigger=trigger,
        requested_by=user,
        reason=reason,
        rollback_of=failed_or_target,
        status=DeploymentStatus.PENDING,
    )


def reserve_port(deployment, preferred):
    """Choose the port a new instance will listen on, and record it.

    A port counts as taken once a deployment in progress has it as its
    address, even before its instance listens: two environments of a
    service deployed at the same moment would otherwise both find the
    configured port free, and one's health gate would pass on the other's
    instance. Ports of releases that serve are taken while something
    listens there (``pick_port`` checks). Choosing and recording happen
    under a lock on the service, so deployments of one service choose one
    at a time. Known limitation: different services configured with the
    same port can still race.
    """
    with transaction.atomic():
        Service.objects.select_for_update().filter(pk=deployment.service_id).first()
        taken = {
            port_of(live)
            for live in Deployment.objects.filter(status=DeploymentStatus.RUNNING)
            .exclude(address="")
            .exclude(pk=deployment.pk)
            .only("address")
        }
        port = pick_port(preferred, taken=taken)
        deployment.address = f"127.0.0.1:{port}"
        _record(deployment, "address")
    return port


def _restore(failed, previous, reason, log):
    """A pending rollback bringing ``previous`` back after ``failed``.

    None when another deployment of the pair became active meanwhile (a
    request that arrived as this one ended): that one decides what serves,
    and a failure of its own restores in turn.
    """
    try:
        with transaction.atomic():
            return create_rollback(
                failed, previous, reason=reason, trigger=Trigger.SYSTEM, user=None
            )
    except IntegrityError:
        active = Deployment.objects.filter(
            service=previous.service,
            environment=previous.environment,
            status__in=DeploymentStatus.active(),
        ).first()
        ahead = f"#{active.pk} is {active.status}" if active else "another one began"
        log(f"not restoring {previous.version}: deployment {ahead}")
        return None


def build_spec(deployment):
    service = deployment.service
    values = config.values_for(service, deployment.environment)
    missing = config.missing(service, values)
    if missing:
        names = ", ".join(missing)
        raise DeploymentFailed(f"required variables have no value: {names}")
    env = config.injected(service, values)
    # Stored with the instance's address once it runs (``launch_new``).
    deployment.config_fingerprint = config.fingerprint(env)
    image = ""
    if resolve(deployment.environment.backend) == BackendKind.DOCKER:
        image = deployment.image or service.image_reference(deployment.version)
    return LaunchSpec(
        deployment_id=deployment.pk,
        service=service.slug,
        environment=deployment.environment.name,
        version=deployment.version,
        preferred_port=service.port,
        image=image,
        command=service.process_command,
        directory=_process_directory(service),
        env=env,
    )


def redact(text, values):
    """Mask every configured value in a service's own output before logging it.

    Known limitation: values shorter than four characters are not masked,
    since masking them would garble the text; such a value printed by a
    failing release shows in its deployment log.
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


def _mark_bad(deployment, reason, log):
    from deployments.releases import mark_bad

    if deployment.release is None:
        return
    mark_bad(deployment.release, reason)
    log(f"release {deployment.version} is marked bad")


@transaction.atomic
def _promote(deployment, log):
    """Make ``deployment`` current and give it the next ledger number."""
    from deployments import ledger

    Deployment.objects.select_for_update().filter(
        service=deployment.service,
        environment=deployment.environment,
        is_current=True,
    ).exclude(pk=deployment.pk).update(is_current=False)
    Deployment.objects.filter(pk=deployment.pk).update(
        is_current=True,
        status=DeploymentStatus.SUCCEEDED,
        finished_at=timezone.now(),
        canary_weight=None,
    )
    user = deployment.requested_by
    entry = ledger.record(
        deployment.service,
        deployment.environment,
        LedgerKind(deployment.kind),
        actor=user,
        actor_label=user.get_username() if user else deployment.trigger,
        trigger=deployment.trigger,
        version=deployment.version,
        digest=_digest(deployment),
        reason=deployment.reason,
        deployment=deployment,
    )
    log(f"v{entry.number}: {deployment.version} is now serving on {deployment.address}")
    if deployment.kind == DeploymentKind.ROLLBACK and deployment.trigger == (
        Trigger.SYSTEM
    ):
        # A restore after a failure, now or queued by the reaper: the failed
        # deployment says what serves again.
        Deployment.objects.filter(
            pk=deployment.rollback_of_id, status=DeploymentStatus.FAILED
        ).update(rolled_back_to=deployment.version)


def _digest(deployment):
    if deployment.release is not None and deployment.release.digest:
        return deployment.release.digest
    return deployment.image.split("@", 1)[1] if "@" in deployment.image else ""


def _backend_of(deployment):
    return get_backend(deployment.backend or deployment.environment.backend)


def _discard(deployment, log):
    """Remove what halting a release left behind; failures are only logged."""
    if not deployment.handle:
        return
    try:
        _backend_of(deployment).discard(deployment.handle, log)
    except BackendError as exc:
        log(f"could not remove {deployment.version} (#{deployment.pk}): {exc}")


def _stop(deployment, log):
    backend = _backend_of(deployment)
    try:
        backend.stop(deployment.handle, log)
    except BackendError as exc:
        log(f"could not stop {deployment.version} (#{deployment.pk}): {exc}")
        return
    Deployment.objects.filter(pk=deployment.pk).update(stopped_at=timezone.now())


def _stop_abandoned(deployment, log):
    """Stop what an abandoned deployment started, recorded or not."""
    if deployment.handle:
        _stop(deployment, log)
        return
    backend = _backend_of(deployment)
    try:
        handles = backend.instances_of(deployment.pk)
    except BackendError as exc:
        log(f"could not look for instances it left: {exc}")
        return
    for handle in handles:
        try:
            backend.stop(handle, log)
        except BackendError as exc:
            log(f"could not stop {handle[:12]}: {exc}")


def retire(previous, log):
    """Stop the release that served before, once the new one is current."""
    if previous is None or previous.stopped_at is not None:
        return
    _stop(previous, log)
    log(f"stopped the previous release {previous.version} (#{previous.pk})")


def reap(deployment_id, stale_before):
    """Fail a running deployment whose worker stopped beating; False if alive.

    The half-started instance is removed. If the current release had already
    been stopped (recreate), a rollback deployment is queued to restore it.
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
    if not deployment.is_current:
        _stop_abandoned(deployment, log)
    current = current_deployment(deployment.service, deployment.environment)
    if current is not None and current.stopped_at is not None:
        from deployments.tasks import run_deployment_task

        _discard(current, log)
        reason = f"automatic: #{deployment.pk} was abandoned"
        restore = _restore(deployment, current, reason, log)
        if restore is not None:
            log(f"queued #{restore.pk} to restore {current.version}")
            transaction.on_commit(lambda: run_deployment_task.delay(restore.pk))
    else:
        start_next_queued(deployment.service_id, deployment.environment_id)
    return True

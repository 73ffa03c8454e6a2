"""How a new release replaces the one serving: recreate, blue-green, canary.

Each strategy is a short sequence of ``Rollout`` steps. Traffic moves only
through nginx (``deployments.traffic``) for services that enable it; for
the others "switching" is the moment the registry records the new address.
Rollbacks skip canary steps: they are an emergency path and use blue-green,
the fastest way back that never leaves the service without an instance.
"""

import logging
import time

from deployments import traffic
from deployments.choices import DeploymentKind, Strategy
from deployments.health_gate import probe
from deployments.models import Deployment
from deployments.runner import HealthGateFailed, beat, port_of, retire

logger = logging.getLogger(__name__)

CANARY_PROBE_SECONDS = 1.0


def run_strategy(rollout):
    deployment = rollout.deployment
    strategy = deployment.strategy
    if deployment.kind == DeploymentKind.ROLLBACK and strategy == Strategy.CANARY:
        strategy = Strategy.BLUE_GREEN
    rollout.log(
        f"{deployment.kind} of {rollout.service} {deployment.version} to "
        f"{rollout.environment}: {strategy} on the {deployment.backend} backend"
    )
    STRATEGIES[strategy](rollout)


def recreate(rollout):
    """Stop the serving release, then start the new one: brief downtime.

    The new release's configuration and image are checked first; the old
    release is stopped while the new container is created, on the old one's
    port, and the new one starts as soon as the old has let go of that port
    (the old container's teardown finishes meanwhile, see
    ``Backend.begin_halt``). The service is down only from the stop to the
    new release's first answer.
    """
    previous = rollout.previous if rollout.previous_running else None
    if previous is None:
        rollout.start_new()
    else:
        rollout.prepare_new(
            port=port_of(previous), before_create=rollout.begin_halt_previous
        )
        rollout.halt_previous()
        rollout.launch_new()
    rollout.gate()
    rollout.route([(rollout.instance.address, 100)])
    rollout.promote()
    rollout.discard_previous()


def blue_green(rollout):
    """Start beside the old release, gate, switch all traffic, stop the old."""
    rollout.start_new()
    rollout.gate()
    rollout.route([(rollout.instance.address, 100)])
    rollout.promote()
    retire(rollout.previous, rollout.log)


def canary(rollout):
    """Shift traffic to the new release step by step while watching it."""
    if not rollout.previous_running:
        rollout.log("nothing serves yet, so there is nothing to compare against")
        return blue_green(rollout)
    rollout.start_new()
    rollout.gate()
    old, new = rollout.previous.address, rollout.instance.address
    environment = rollout.environment
    for weight in environment.canary_steps:
        rollout.route([(old, 100 - weight), (new, weight)])
        rollout.deployment.canary_weight = weight
        Deployment.objects.filter(pk=rollout.deployment.pk).update(canary_weight=weight)
        watch_canary(rollout, new, environment.canary_step_seconds)
    rollout.route([(new, 100)])
    rollout.promote()
    retire(rollout.previous, rollout.log)


def watch_canary(rollout, address, seconds):
    """Probe the canary and read its error rate for one step; raise to abort."""
    environment = rollout.environment
    path = rollout.service.health_check_path
    offset = traffic.log_offset(rollout.service, environment)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        beat(rollout.deployment.pk)
        result = probe(address, path, timeout=2.0)
        if not result.ok:
            raise HealthGateFailed(f"canary health check failed: {result.error}")
        time.sleep(min(CANARY_PROBE_SECONDS, max(0.0, deadline - time.monotonic())))
    requests_, errors = traffic.upstream_errors(
        rollout.service, environment, address, offset
    )
    rate = errors / requests_ if requests_ else 0.0
    rollout.log(
        f"canary step: {requests_} requests, {errors} errors ({rate:.1%}) on {address}"
    )
    if rate > environment.canary_max_error_rate:
        limit = environment.canary_max_error_rate
        raise HealthGateFailed(
            f"canary error rate {rate:.1%} is above the limit of {limit:.1%}"
        )


STRATEGIES = {
    Strategy.RECREATE: recreate,
    Strategy.BLUE_GREEN: blue_green,
    Strategy.CANARY: canary,
}

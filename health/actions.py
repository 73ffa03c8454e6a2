"""Health checks of current deployments and reading their latest results."""

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from deployments.health_gate import probe
from deployments.models import Deployment
from health.choices import HealthStatus
from health.models import CheckResult


def check_deployment(deployment):
    """Probe one deployment's health check path and store the result.

    Makes one HTTP request to the deployment's loopback address.
    """
    result = probe(
        deployment.address,
        deployment.service.health_check_path,
        timeout=settings.MECH["HEALTH_CHECK_TIMEOUT"],
    )
    return CheckResult.objects.create(
        deployment=deployment,
        service_id=deployment.service_id,
        environment_id=deployment.environment_id,
        status=HealthStatus.UP if result.ok else HealthStatus.DOWN,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        error=result.error[:500],
        checked_at=timezone.now(),
    )


def current_deployments():
    return Deployment.objects.filter(is_current=True).exclude(address="")


def latest_results(services):
    """Latest check result of each current deployment of ``services``.

    Returns a list of current deployments, each with ``latest`` set to its
    newest ``CheckResult`` or None; two queries in all.
    """
    newest = CheckResult.objects.filter(deployment=OuterRef("pk")).order_by(
        "-checked_at", "-id"
    )
    deployments = list(
        current_deployments()
        .filter(service__in=services)
        .select_related("environment", "service")
        .annotate(latest_id=Subquery(newest.values("id")[:1]))
        .order_by("service__slug", "environment__name")
    )
    ids = [d.latest_id for d in deployments if d.latest_id]
    results = CheckResult.objects.in_bulk(ids)
    for deployment in deployments:
        deployment.latest = results.get(deployment.latest_id)
    return deployments

"""Service discovery: where each service runs now, and whether it is healthy.

What a client or another service asks the registry before calling a
service, in the spirit of a Consul catalog query: one entry per service and
environment that has a current deployment, with its address, the hostnames
the registry's nginx serves it under, its latest check and its endpoints.
"""

from deployments import traffic
from health.actions import latest_results
from health.choices import HealthStatus


def instances(services, environment=None, healthy_only=False):
    """Discovery entries of ``services`` (a queryset); four queries in all."""
    services = services.prefetch_related("endpoints")
    deployments = latest_results(services)
    endpoints = {service.pk: list(service.endpoints.all()) for service in services}
    router = traffic.get_router()
    found = []
    for deployment in deployments:
        if environment is not None and deployment.environment_id != environment.pk:
            continue
        status = deployment.latest.status if deployment.latest else "unknown"
        if healthy_only and status != HealthStatus.UP:
            continue
        found.append(_entry(deployment, status, endpoints, router))
    return found


def _entry(deployment, status, endpoints, router):
    service = deployment.service
    hostnames = []
    if router.enabled_for(service):
        hostnames = router.hostnames(service, deployment.environment)
    return {
        "serviceId": service.slug,
        "environment": deployment.environment.name,
        "version": deployment.version,
        "address": deployment.address,
        "url": f"http://{deployment.address}",
        "hostnames": hostnames,
        "status": status,
        "checkedAt": deployment.latest.checked_at if deployment.latest else None,
        "endpoints": [
            {"path": e.path, "method": e.method, "description": e.description}
            for e in endpoints.get(service.pk, [])
        ],
    }

"""``GET /api/discovery``: where services run, for those the caller may see."""

import pytest
from django.utils import timezone

from accounts.choices import Role
from deployments.choices import DeploymentStatus
from deployments.models import Deployment
from health.choices import HealthStatus
from health.models import CheckResult
from services.models import Endpoint
from tests.accounts.personas import client_for

pytestmark = pytest.mark.django_db


def _serving(world, service, environment, address, status):
    deployment = Deployment.objects.create(
        service=service,
        environment=environment,
        version="1.0.0",
        trigger="cli",
        status=DeploymentStatus.SUCCEEDED,
        is_current=True,
        address=address,
    )
    if status is not None:
        CheckResult.objects.create(
            deployment=deployment,
            service=service,
            environment=environment,
            status=status,
            status_code=200 if status == HealthStatus.UP else 503,
            checked_at=timezone.now(),
        )
    return deployment


@pytest.fixture
def serving(world):
    Endpoint.objects.create(
        service=world["own"], path="/api/search", method="GET", description="Find"
    )
    _serving(world, world["own"], world["staging"], "127.0.0.1:4001", HealthStatus.UP)
    _serving(
        world, world["own"], world["production"], "127.0.0.1:4002", HealthStatus.DOWN
    )
    _serving(world, world["other"], world["staging"], "127.0.0.1:4003", None)
    return world


def test_discovery_lists_where_each_visible_service_runs(serving):
    client = client_for(serving["users"][Role.VIEWER])

    response = client.get("/api/discovery")

    assert response.status_code == 200
    entries = [
        (e["serviceId"], e["environment"], e["address"], e["status"])
        for e in response.json()
    ]
    # beta-api belongs to another team: the viewer does not see it at all.
    assert entries == [
        ("alpha-api", "production", "127.0.0.1:4002", "down"),
        ("alpha-api", "staging", "127.0.0.1:4001", "up"),
    ]
    first = response.json()[0]
    assert first["url"] == "http://127.0.0.1:4002"
    assert first["endpoints"] == [
        {"path": "/api/search", "method": "GET", "description": "Find"}
    ]
    assert first["hostnames"] == []


def test_discovery_filters_by_environment_and_health(serving):
    client = client_for(serving["users"][Role.ADMIN])

    staging = client.get("/api/discovery?environment=staging").json()
    healthy = client.get("/api/discovery?healthy=true").json()

    assert [(e["serviceId"], e["status"]) for e in staging] == [
        ("alpha-api", "up"),
        ("beta-api", "unknown"),
    ]
    assert [(e["serviceId"], e["environment"]) for e in healthy] == [
        ("alpha-api", "staging")
    ]


def test_discovery_costs_a_fixed_number_of_queries(
    serving, django_assert_max_num_queries
):
    client = client_for(serving["users"][Role.ADMIN])

    with django_assert_max_num_queries(12):
        response = client.get("/api/discovery")

    assert len(response.json()) == 3

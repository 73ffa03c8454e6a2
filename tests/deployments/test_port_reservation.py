"""Ports are reserved in the database before an instance listens on them.

Two environments of a service deployed at the same moment both found the
configured port free; one's health gate then passed on the other's instance.
"""

import pytest

from deployments.backends.base import pick_port
from deployments.choices import DeploymentStatus
from deployments.models import Deployment, Environment
from deployments.runner import port_of, reserve_port
from tests.catalog import add_service, definition
from tests.deployments.steps import unsent_deployment

pytestmark = pytest.mark.django_db

RUNNING = DeploymentStatus.RUNNING


@pytest.fixture
def service():
    unrouted = {"domains": [], "nginx": {"enabled": False}}
    configuration = {"port": pick_port(), "healthCheck": "/health"}
    return add_service(
        definition(id="ports", deployment=unrouted, configuration=configuration)
    )


def environment(name):
    return Environment.objects.get_or_create(name=name, defaults={"backend": "docker"})[
        0
    ]


def test_two_environments_starting_at_once_get_different_ports(service):
    staging = unsent_deployment(service, environment("staging"), status=RUNNING)
    production = unsent_deployment(service, environment("production"), status=RUNNING)

    first = reserve_port(staging, service.port)
    second = reserve_port(production, service.port)

    assert first == service.port
    assert second != service.port
    staging.refresh_from_db()
    production.refresh_from_db()
    assert (port_of(staging), port_of(production)) == (first, second)


def test_a_port_is_free_again_once_its_deployment_ended(service):
    failed = unsent_deployment(service, environment("staging"), status=RUNNING)
    reserve_port(failed, service.port)
    Deployment.objects.filter(pk=failed.pk).update(status=DeploymentStatus.FAILED)
    later = unsent_deployment(service, environment("production"), status=RUNNING)

    assert reserve_port(later, service.port) == service.port


def test_a_deployment_in_progress_holds_its_port_from_other_services(service):
    starting = unsent_deployment(service, environment("staging"), status=RUNNING)
    reserve_port(starting, service.port)
    other = add_service(
        definition(
            id="ports-other",
            deployment={"domains": [], "nginx": {"enabled": False}},
            configuration={"port": service.port, "healthCheck": "/health"},
        )
    )
    newcomer = unsent_deployment(other, environment("staging"), status=RUNNING)

    assert reserve_port(newcomer, other.port) != service.port


def test_a_serving_release_whose_port_is_free_does_not_hold_it(service):
    """After a restart, a release recorded as serving may not run any more."""
    serving = unsent_deployment(
        service, environment("staging"), status=DeploymentStatus.SUCCEEDED
    )
    reserve_port(serving, service.port)
    later = unsent_deployment(service, environment("staging"), "1.1.0", status=RUNNING)

    assert reserve_port(later, service.port) == service.port

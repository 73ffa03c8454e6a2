"""The reaper removes what a dead worker's deployment created on the engine.

The worker's steps run here, in the test, against the real engine; the
worker "dies" by simply not going on. A container is recorded as soon as it
exists, and one made in the instant before it could be recorded is found
by its label.
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.backends.base import LaunchSpec, pick_port
from deployments.backends.docker import DockerBackend
from deployments.choices import DeploymentStatus
from deployments.models import Environment
from deployments.runner import Rollout, reap
from tests.catalog import add_service
from tests.deployments.steps import unsent_deployment
from tests.images import HEALTHY, publish

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def reap_image(docker_client, local_registry):
    repository = f"{local_registry}/tests/reap"
    publish(docker_client, repository, {"1.0.0": HEALTHY})
    return repository


@pytest.fixture
def abandoned(reap_image, docker_client):
    """A running deployment whose worker stopped beating a minute ago."""
    registry, _, image = reap_image.rpartition("/")
    service = add_service(
        {
            "id": f"reap-{uuid.uuid4().hex[:8]}",
            "name": "Reap",
            "docker": {"registry": registry, "image": image},
            "configuration": {"port": pick_port(), "healthCheck": "/health"},
        }
    )
    environment, _ = Environment.objects.update_or_create(
        name="reap-test", defaults={"backend": "docker"}
    )
    long_ago = timezone.now() - timedelta(minutes=1)
    deployment = unsent_deployment(
        service,
        environment,
        image=f"{reap_image}:1.0.0",
        status=DeploymentStatus.RUNNING,
        backend="docker",
        started_at=long_ago,
        heartbeat_at=long_ago,
    )
    yield deployment
    for container in docker_client.containers.list(
        all=True, filters={"name": f"mech-{service.slug}-"}
    ):
        container.remove(force=True)


def _exists(docker_client, handle):
    return any(c.id == handle for c in docker_client.containers.list(all=True))


def test_a_container_created_but_not_started_is_recorded_and_reaped(
    abandoned, docker_client
):
    rollout = Rollout(abandoned)
    rollout.prepare_new()
    handle = rollout.prepared.handle
    abandoned.refresh_from_db()
    assert abandoned.handle == handle
    assert _exists(docker_client, handle)

    assert reap(abandoned.pk, stale_before=timezone.now()) is True

    abandoned.refresh_from_db()
    assert abandoned.status == DeploymentStatus.FAILED
    assert not _exists(docker_client, handle)


def test_a_container_the_worker_never_recorded_is_found_by_its_label(
    abandoned, docker_client
):
    backend = DockerBackend()
    spec = LaunchSpec(
        deployment_id=abandoned.pk,
        service=abandoned.service.slug,
        environment=abandoned.environment.name,
        version="1.0.0",
        preferred_port=abandoned.service.port,
        image=abandoned.image,
    )
    lines = []
    instance = backend.launch(backend.prepare(spec, lines.append), lines.append)
    assert abandoned.handle == ""

    assert reap(abandoned.pk, stale_before=timezone.now()) is True

    assert not _exists(docker_client, instance.handle)
    assert backend.instances_of(abandoned.pk) == []

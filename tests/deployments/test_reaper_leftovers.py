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

from deployments import tasks
from deployments.backends.base import LaunchSpec, pick_port
from deployments.backends.docker import DockerBackend
from deployments.choices import DeploymentStatus
from deployments.models import Deployment, Environment
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
    instance = backend.launch(_prepared(abandoned), _quiet)
    assert abandoned.handle == ""

    assert reap(abandoned.pk, stale_before=timezone.now()) is True

    assert not _exists(docker_client, instance.handle)
    assert backend.instances_of(abandoned.pk) == []


def _prepared(deployment):
    """A container made for ``deployment`` (not started), as a worker makes it."""
    spec = LaunchSpec(
        deployment_id=deployment.pk,
        service=deployment.service.slug,
        environment=deployment.environment.name,
        version=deployment.version,
        preferred_port=deployment.service.port,
        image=deployment.image,
    )
    return DockerBackend().prepare(spec, _quiet)


def _quiet(message):
    pass


def test_a_replaced_release_left_running_is_stopped_after_a_while(
    abandoned, docker_client
):
    service, environment = abandoned.service, abandoned.environment
    long_ago = timezone.now() - timedelta(minutes=5)
    Deployment.objects.filter(pk=abandoned.pk).update(
        status=DeploymentStatus.SUCCEEDED, finished_at=long_ago
    )
    abandoned.refresh_from_db()
    old = DockerBackend().launch(_prepared(abandoned), _quiet)
    Deployment.objects.filter(pk=abandoned.pk).update(handle=old.handle)
    successor = unsent_deployment(
        service,
        environment,
        "1.1.0",
        status=DeploymentStatus.SUCCEEDED,
        is_current=True,
        finished_at=timezone.now(),
    )

    tasks.retire_superseded(timezone.now() - tasks.LEFTOVER_AFTER)
    assert _exists(docker_client, old.handle), "stopped while just replaced"

    Deployment.objects.filter(pk=successor.pk).update(finished_at=long_ago)
    tasks.retire_superseded(timezone.now() - tasks.LEFTOVER_AFTER)

    assert not _exists(docker_client, old.handle)
    abandoned.refresh_from_db()
    assert abandoned.stopped_at is not None


def test_stopped_containers_left_behind_go_once_their_deployment_ended(
    abandoned, docker_client
):
    long_ago = timezone.now() - timedelta(minutes=5)
    Deployment.objects.filter(pk=abandoned.pk).update(
        status=DeploymentStatus.SUCCEEDED, stopped_at=long_ago
    )
    abandoned.refresh_from_db()
    left = _prepared(abandoned).handle
    recent = unsent_deployment(
        abandoned.service,
        abandoned.environment,
        image=abandoned.image,
        status=DeploymentStatus.SUCCEEDED,
        stopped_at=timezone.now(),
    )
    kept = _prepared(recent).handle
    foreign = docker_client.api.create_container(
        abandoned.image,
        name=f"mech-other-registry-{uuid.uuid4().hex[:6]}",
        labels={"io.mech-registry.deployment": str(abandoned.pk)},
    )["Id"]
    try:
        tasks.remove_stopped_leftovers(timezone.now() - tasks.LEFTOVER_AFTER)

        assert not _exists(docker_client, left)
        assert _exists(docker_client, kept)
        assert _exists(docker_client, foreign)
    finally:
        docker_client.api.remove_container(foreign, force=True)

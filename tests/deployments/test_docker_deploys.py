"""Deploying on the real Docker engine through the real Celery worker.

Images exist only in the loopback registry; every deployment pulls.
"""

import uuid

import docker
import pytest

from config.celery import app as celery_app
from deployments.backends.base import pick_port
from deployments.models import Deployment
from health.models import CheckResult
from tests.catalog import add_service
from tests.deployments.steps import (
    deploy,
    fetch,
    log_messages,
    refuses_connections,
    remove_containers,
    set_variables,
    wait_until_stopped,
)
from tests.images import publish
from tests.polling import wait_for

pytestmark = [
    pytest.mark.docker,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

RELEASES = {"1.0.0": True, "1.1.0": True, "1.2.0": False}


@pytest.fixture(scope="session")
def web_images(docker_client, local_registry):
    """``registry/tests/web`` in releases 1.0.0, 1.1.0 and broken 1.2.0."""
    repository = f"{local_registry}/tests/web"
    publish(docker_client, repository, RELEASES)
    return repository


@pytest.fixture
def web_service(web_images, environment_for, api, running_instances):
    slug = f"web-{uuid.uuid4().hex[:8]}"
    service = add_service(
        {
            "id": slug,
            "name": "Web",
            "docker": {"registry": web_images.rsplit("/", 1)[0], "image": "web"},
            "configuration": {
                "port": pick_port(),
                "healthCheck": "/health",
                "environment": {"required": ["GREETING"]},
            },
        }
    )
    environment = environment_for("docker")
    set_variables(api, slug, environment.name, {"GREETING": "hello from docker"})
    yield service, environment.name
    _remove_leftover_containers(slug)


def _remove_leftover_containers(slug):
    client = docker.DockerClient(base_url=_docker_host())
    remove_containers(client, slug)


def _docker_host():
    from django.conf import settings

    return settings.MECH["DOCKER_HOST"]


def container_exists(client, handle):
    try:
        client.containers.get(handle)
    except docker.errors.NotFound:
        return False
    return True


def test_first_release_is_pulled_started_and_reported_healthy(
    api, celery_worker, web_service, docker_client, web_images
):
    service, environment = web_service

    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")

    assert first["status"] == "succeeded", log_messages(first)
    assert first["backend"] == "docker"
    assert first["isCurrent"] is True
    # The release pins the digest the registry resolved when it was recorded.
    assert any(
        line.startswith(f"pulling {web_images}@sha256:") for line in log_messages(first)
    ), log_messages(first)
    assert fetch(first["address"], "/version") == (200, "1.0.0\n")
    assert fetch(first["address"], "/greeting") == (200, "hello from docker\n")

    celery_app.send_task("health.tasks.check_all_health_task")
    wait_for(
        lambda: CheckResult.objects.filter(deployment_id=first["id"]).count(),
        lambda count: count >= 1,
        30,
        what="a health check result",
    )
    health = api.get(f"/api/health/{service.slug}").json()
    (entry,) = health["environments"]
    assert health["serviceId"] == service.slug
    assert entry["environment"] == environment
    assert entry["deploymentId"] == first["id"]
    assert entry["version"] == "1.0.0"
    assert entry["status"] == "up"
    assert entry["statusCode"] == 200
    assert entry["error"] == ""
    assert entry["latencyMs"] > 0
    assert entry["checkedAt"] is not None


def test_new_release_replaces_the_old_and_a_broken_one_leaves_it_serving(
    api, celery_worker, web_service, docker_client
):
    service, environment = web_service
    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")
    assert first["status"] == "succeeded", log_messages(first)
    first_handle = Deployment.objects.get(pk=first["id"]).handle

    second = deploy(api, celery_worker, service.slug, environment, "1.1.0")

    assert second["status"] == "succeeded", log_messages(second)
    assert fetch(second["address"], "/version") == (200, "1.1.0\n")
    first_now = wait_until_stopped(api, first)
    assert first_now["isCurrent"] is False
    assert not container_exists(docker_client, first_handle)
    if first["address"] != second["address"]:
        assert refuses_connections(first["address"])

    third = deploy(api, celery_worker, service.slug, environment, "1.2.0")

    assert third["status"] == "failed"
    assert third["isCurrent"] is False
    assert third["error"] == "health check /health failed: answered 404"
    messages = log_messages(third)
    assert "failed: health check /health failed: answered 404" in messages
    assert f"1.1.0 (deployment #{second['id']}) is still serving" in messages
    third_handle = Deployment.objects.get(pk=third["id"]).handle
    assert not container_exists(docker_client, third_handle)
    assert fetch(second["address"], "/version") == (200, "1.1.0\n")
    current = api.get(f"/api/deployments?serviceId={service.slug}&isCurrent=true")
    assert [d["version"] for d in current.json()["results"]] == ["1.1.0"]

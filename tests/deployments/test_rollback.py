"""Rollbacks on the real Docker engine through the real worker.

Automatic: a release that fails its health gate is marked bad and the one
that served before is restored. Manual: a deployment or a version is rolled
back to in one call, and a release whose image is gone is refused before
anything is stopped.
"""

import uuid

import docker
import pytest
import requests

from deployments.models import Deployment, LedgerEntry
from deployments.runner import execute
from tests.deployments.e2e_fixtures import (  # noqa: F401 (fixtures)
    docker_environment_fixture,
    e2e_images_fixture,
    e2e_service_fixture,
)
from tests.deployments.steps import (
    accepted,
    ask_to_deploy,
    containers_of,
    deploy,
    fetch,
    log_messages,
    unsent_deployment,
    wait_until_finished,
    wait_until_stopped,
)
from tests.images import publish
from tests.parts import REGISTRY
from tests.polling import wait_for

pytestmark = [
    pytest.mark.docker,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

GATE_FAILURE = "health check /health failed: answered 404"


def releases_of(api, slug):
    body = api.get(f"/api/services/{slug}/releases").json()
    return {release["version"]: release for release in body["results"]}


def rollbacks_of(api, slug, deployment_id):
    listed = api.get(f"/api/deployments?serviceId={slug}").json()["results"]
    return [d for d in listed if d["rollbackOf"] == deployment_id]


def wait_for_restore(api, worker, slug, failed_id):
    (restore,) = wait_for(
        lambda: rollbacks_of(api, slug, failed_id),
        lambda found: len(found) == 1,
        30,
        what=f"a rollback of #{failed_id}",
    )
    return wait_until_finished(api, worker, restore["url"], "the restore")


def test_recreate_failure_restores_previous_release_and_marks_the_new_one_bad(
    api, celery_worker, e2e_service, docker_environment
):
    environment = docker_environment("e2e-recreate", strategy="recreate").name
    service = e2e_service(environment)
    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")
    assert first["status"] == "succeeded", log_messages(first)

    broken = deploy(api, celery_worker, service.slug, environment, "1.2.0")

    assert broken["status"] == "failed"
    assert broken["error"] == GATE_FAILURE
    assert "stopping 1.0.0 first (recreate)" in log_messages(broken)
    restore = wait_for_restore(api, celery_worker, service.slug, broken["id"])
    # The failed deployment names the version once the restore has served.
    broken = wait_for(
        lambda: api.get(broken["url"]).json(),
        lambda body: body["rolledBackTo"] == "1.0.0",
        10,
        what="rolledBackTo on the failed deployment",
    )
    assert f"restore #{restore['id']} of 1.0.0: succeeded" in log_messages(broken)
    assert restore["status"] == "succeeded", log_messages(restore)
    assert (restore["kind"], restore["trigger"]) == ("rollback", "system")
    assert (restore["version"], restore["requestedBy"]) == ("1.0.0", None)
    assert restore["isCurrent"] is True
    assert fetch(restore["address"], "/version") == (200, "1.0.0\n")
    release = releases_of(api, service.slug)["1.2.0"]
    assert release["isBad"] is True
    assert release["badReason"] == GATE_FAILURE
    assert releases_of(api, service.slug)["1.0.0"]["isBad"] is False


def test_recreate_whose_container_cannot_be_created_restores_the_stopped_release(
    api, celery_worker, e2e_service, docker_environment, docker_client, monkeypatch
):
    """Recreate stops the old release while it creates the new container.

    When the engine refuses to create it, the old release, already stopped,
    is restored, and the new release is not marked bad. The refusal is
    injected into the Docker client of this process, which runs that
    deployment itself; everything else is the real engine.
    """
    environment = docker_environment("e2e-recreate", strategy="recreate")
    service = e2e_service(environment.name)
    first = deploy(api, celery_worker, service.slug, environment.name, "1.0.0")
    assert first["status"] == "succeeded", log_messages(first)
    refused = []
    create = docker.api.client.APIClient.create_container

    def refuse_once(client, *args, **kwargs):
        if not refused:
            refused.append(kwargs.get("name"))
            response = requests.Response()
            response.status_code = 500
            raise docker.errors.APIError("refused", response, "no space left")
        return create(client, *args, **kwargs)

    monkeypatch.setattr(docker.api.client.APIClient, "create_container", refuse_once)
    failing = unsent_deployment(
        service, environment, "1.1.0", image=f"{REGISTRY}/tests/e2e:1.1.0"
    )

    execute(failing.pk)

    failed = api.get(f"/api/deployments/{failing.pk}").json()
    assert failed["status"] == "failed"
    assert failed["error"] == "cannot create container: no space left"
    assert "stopping 1.0.0 first (recreate)" in log_messages(failed)
    assert failed["rolledBackTo"] == "1.0.0"
    (restore,) = rollbacks_of(api, service.slug, failing.pk)
    assert restore["status"] == "succeeded"
    assert restore["version"] == "1.0.0"
    assert fetch(restore["address"], "/version") == (200, "1.0.0\n")
    assert not any(r["isBad"] for r in releases_of(api, service.slug).values())
    first = api.get(first["url"]).json()
    assert first["stoppedAt"] is not None and first["isCurrent"] is False
    assert len(refused) == 1


def test_bad_release_is_refused_unless_overridden_and_the_override_is_recorded(
    api, celery_worker, e2e_service, docker_environment
):
    environment = docker_environment("e2e-recreate", strategy="recreate").name
    service = e2e_service(environment)
    deploy(api, celery_worker, service.slug, environment, "1.0.0")
    broken = deploy(api, celery_worker, service.slug, environment, "1.2.0")
    wait_for_restore(api, celery_worker, service.slug, broken["id"])
    count = Deployment.objects.count()

    refused = ask_to_deploy(api, service.slug, environment, "1.2.0")

    assert refused.status_code == 400
    assert refused.json()["code"] == "bad_release"
    assert refused.json()["version"] == "1.2.0"
    assert Deployment.objects.count() == count

    overridden = ask_to_deploy(
        api,
        service.slug,
        environment,
        "1.2.0",
        overrideBadRelease=True,
        strategy="blue-green",
        reason="checking the fix in the health check",
    )

    url = accepted(overridden)
    assert overridden.json()["overrideBadRelease"] is True
    assert Deployment.objects.get(pk=overridden.json()["id"]).override_bad_release
    again = wait_until_finished(api, celery_worker, url)
    assert again["status"] == "failed"
    assert again["overrideBadRelease"] is True
    # Blue-green never stopped the restored 1.0.0, so no second restore.
    assert again["rolledBackTo"] == "1.0.0"
    current = api.get(f"/api/deployments?serviceId={service.slug}&isCurrent=true")
    (serving,) = current.json()["results"]
    assert fetch(serving["address"], "/version") == (200, "1.0.0\n")


def test_blue_green_failure_keeps_the_old_release_serving_and_marks_the_new_bad(
    api, celery_worker, e2e_service, docker_environment
):
    environment = docker_environment("e2e-blue-green", strategy="blue-green").name
    service = e2e_service(environment)
    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")

    broken = deploy(api, celery_worker, service.slug, environment, "1.2.0")

    assert broken["status"] == "failed"
    assert broken["error"] == GATE_FAILURE
    assert broken["rolledBackTo"] == "1.0.0"
    assert f"1.0.0 (deployment #{first['id']}) is still serving" in log_messages(broken)
    assert rollbacks_of(api, service.slug, broken["id"]) == []
    assert api.get(first["url"]).json()["isCurrent"] is True
    assert fetch(first["address"], "/version") == (200, "1.0.0\n")
    assert releases_of(api, service.slug)["1.2.0"]["isBad"] is True


def test_rollback_of_a_deployment_and_to_a_version_each_deploy_and_serve(
    api, celery_worker, e2e_service, docker_environment
):
    environment = docker_environment("e2e-blue-green", strategy="blue-green").name
    service = e2e_service(environment)
    deploy(api, celery_worker, service.slug, environment, "1.0.0")
    second = deploy(api, celery_worker, service.slug, environment, "1.1.0")
    assert second["status"] == "succeeded", log_messages(second)

    response = api.post(
        f"/api/deployments/{second['id']}/rollback",
        {"reason": "1.1.0 breaks the export"},
        format="json",
    )

    back = wait_until_finished(api, celery_worker, accepted(response))
    assert back["status"] == "succeeded", log_messages(back)
    assert (back["kind"], back["version"]) == ("rollback", "1.0.0")
    assert back["rollbackOf"] == second["id"]
    assert back["reason"] == "1.1.0 breaks the export"
    assert back["isCurrent"] is True
    assert fetch(back["address"], "/version") == (200, "1.0.0\n")
    entry = LedgerEntry.objects.filter(deployment_id=back["id"]).get()
    assert (entry.kind, entry.version) == ("rollback", "1.0.0")

    response = api.post(
        f"/api/services/{service.slug}/rollback",
        {"environment": environment, "version": "1.1.0"},
        format="json",
    )

    forward = wait_until_finished(api, celery_worker, accepted(response))
    assert forward["status"] == "succeeded", log_messages(forward)
    assert (forward["kind"], forward["version"]) == ("rollback", "1.1.0")
    assert forward["rollbackOf"] == back["id"]
    assert fetch(forward["address"], "/version") == (200, "1.1.0\n")
    listed = api.get(f"/api/deployments?serviceId={service.slug}&isCurrent=true")
    assert [d["id"] for d in listed.json()["results"]] == [forward["id"]]


def _delete_from_registry(repository, digest):
    session = requests.Session()
    session.trust_env = False
    path = repository.split("/", 1)[1]
    response = session.delete(
        f"http://{REGISTRY}/v2/{path}/manifests/{digest}", timeout=10
    )
    assert response.status_code == 202, response.text


def test_rollback_to_a_release_whose_image_is_gone_is_refused_before_stopping(
    api, celery_worker, e2e_service, docker_environment, docker_client
):
    repository = f"{REGISTRY}/tests/gone-{uuid.uuid4().hex[:8]}"
    publish(docker_client, repository, {"1.0.0": True, "1.1.0": True})
    environment = docker_environment("e2e-blue-green", strategy="blue-green").name
    service = e2e_service(environment, repository=repository)
    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")
    second = deploy(api, celery_worker, service.slug, environment, "1.1.0")
    assert second["status"] == "succeeded", log_messages(second)
    wait_until_stopped(api, first)
    gone = releases_of(api, service.slug)["1.0.0"]
    _delete_from_registry(repository, gone["digest"])
    docker_client.images.remove(first["image"], force=True)
    count, running = (
        Deployment.objects.count(),
        containers_of(docker_client, service.slug),
    )

    by_version = api.post(
        f"/api/services/{service.slug}/rollback",
        {"environment": environment, "version": "1.0.0"},
        format="json",
    )
    by_deployment = api.post(f"/api/deployments/{second['id']}/rollback")

    for response in (by_version, by_deployment):
        assert response.status_code == 400
        assert response.json() == {
            "code": "image_gone",
            "message": f"image {first['image']} no longer exists; nothing was stopped",
        }
    assert Deployment.objects.count() == count
    assert containers_of(docker_client, service.slug) == running
    assert api.get(second["url"]).json()["isCurrent"] is True
    assert fetch(second["address"], "/version") == (200, "1.1.0\n")

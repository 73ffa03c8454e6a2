"""Deployment safety end to end: one active deployment per service and
environment, idempotency keys, dry runs and a worker killed mid-deploy."""

import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings

from deployments import tasks
from deployments.models import Deployment, DeploymentLogLine, LedgerEntry, Release
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
    refuses_connections,
    set_variables,
    wait_until_finished,
)
from tests.polling import wait_for

pytestmark = [
    pytest.mark.docker,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

# 1.5.0 starts listening only after a few seconds, so its deployment stays
# on the health gate long enough for a second request or a crash.
SLOW = "1.5.0"
REAPED = "the worker running this deployment stopped responding"


@pytest.fixture
def environment(docker_environment):
    return docker_environment("e2e-safety", strategy="blue-green").name


def test_second_deploy_while_one_runs_gets_409_with_the_active_url_or_queues(
    api, celery_worker, e2e_service, environment
):
    service = e2e_service(environment)
    slow_url = accepted(ask_to_deploy(api, service.slug, environment, SLOW))
    active_id = int(slow_url.rsplit("/", 1)[1])

    refused = ask_to_deploy(api, service.slug, environment, "1.0.0")

    assert refused.status_code == 409
    assert refused.json() == {
        "code": "deployment_in_progress",
        "message": refused.json()["message"],
        "activeDeploymentId": active_id,
        "activeDeploymentUrl": slow_url,
    }
    assert f"deployment #{active_id} of" in refused.json()["message"]
    assert Deployment.objects.count() == 1

    queued = ask_to_deploy(api, service.slug, environment, "1.0.0", queue=True)

    queued_url = accepted(queued)
    assert queued.json()["status"] == "queued"
    slow = wait_until_finished(api, celery_worker, slow_url)
    assert slow["status"] == "succeeded", log_messages(slow)
    after = wait_until_finished(api, celery_worker, queued_url)
    assert after["status"] == "succeeded", log_messages(after)
    assert after["startedAt"] >= slow["finishedAt"]
    assert after["isCurrent"] is True
    assert fetch(after["address"], "/version") == (200, "1.0.0\n")


def test_repeated_idempotency_key_answers_the_same_deployment_and_a_reuse_409(
    api, celery_worker, e2e_service, environment
):
    service = e2e_service(environment)
    key = f"release-{uuid.uuid4().hex}"

    first = ask_to_deploy(api, service.slug, environment, "1.0.0", key)
    again = ask_to_deploy(api, service.slug, environment, "1.0.0", key)
    reused = ask_to_deploy(api, service.slug, environment, "1.1.0", key)

    url = accepted(first)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again["Location"] == url
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_key_reused"
    assert Deployment.objects.count() == 1
    done = wait_until_finished(api, celery_worker, url)
    assert done["status"] == "succeeded", log_messages(done)
    later = ask_to_deploy(api, service.slug, environment, "1.0.0", key)
    assert (later.status_code, later.json()["id"]) == (200, done["id"])
    assert Deployment.objects.count() == 1


def _snapshot(docker_client, slug):
    return {
        "deployments": Deployment.objects.count(),
        "releases": sorted(Release.objects.values_list("version", flat=True)),
        "ledger": LedgerEntry.objects.count(),
        "log lines": DeploymentLogLine.objects.count(),
        "containers": containers_of(docker_client, slug),
    }


def dry_run(api, slug, environment, version):
    return ask_to_deploy(api, slug, environment, version, dryRun=True)


def test_dry_run_returns_the_plan_without_values_and_changes_nothing(
    api, celery_worker, e2e_service, e2e_images, environment, docker_client
):
    service = e2e_service(environment, optional=["MODE", "EXTRA"])
    set_variables(api, service.slug, environment, {"MODE": "mode-value-1"})
    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")
    assert first["status"] == "succeeded", log_messages(first)
    values = {"GREETING": "greeting-value-2", "EXTRA": "extra-value-3"}
    set_variables(api, service.slug, environment, values)
    removed = api.delete(f"/api/services/{service.slug}/variables/{environment}/MODE")
    assert removed.status_code == 204
    before = _snapshot(docker_client, service.slug)

    planned = dry_run(api, service.slug, environment, "1.1.0")

    assert planned.status_code == 200
    assert planned.json() == {
        "serviceId": service.slug,
        "environment": environment,
        "backend": "docker",
        "strategy": "blue-green",
        "version": {"from": "1.0.0", "to": "1.1.0"},
        "image": {"from": first["image"], "to": f"{e2e_images}:1.1.0"},
        "variables": {"added": ["EXTRA"], "removed": ["MODE"], "changed": ["GREETING"]},
        "missingRequired": [],
        "domains": [],
        "healthCheck": "/health",
        "problems": [],
        "wouldDeploy": True,
    }
    for value in ("mode-value-1", *values.values()):
        assert value not in planned.content.decode()
    assert _snapshot(docker_client, service.slug) == before
    assert fetch(first["address"], "/version") == (200, "1.0.0\n")

    api.delete(f"/api/services/{service.slug}/variables/{environment}/GREETING")
    before = _snapshot(docker_client, service.slug)

    missing = dry_run(api, service.slug, environment, "1.1.0")

    plan = missing.json()
    assert plan["missingRequired"] == ["GREETING"]
    assert plan["wouldDeploy"] is False
    assert [problem["code"] for problem in plan["problems"]] == ["missing_variables"]
    assert plan["strategy"] == "blue-green"
    assert plan["variables"]["removed"] == ["GREETING", "MODE"]
    assert _snapshot(docker_client, service.slug) == before
    refused = ask_to_deploy(api, service.slug, environment, "1.1.0")
    assert refused.status_code == 400
    assert refused.json()["missing"] == ["GREETING"]


def _reap_now(monkeypatch):
    """Run the reaper task here with a threshold of half a second."""
    monkeypatch.setattr(tasks, "STALE_MARGIN", timedelta(0))
    monkeypatch.setattr(
        settings, "MECH", {**settings.MECH, "DEPLOY_HEALTH_TIMEOUT": 0.5}
    )
    time.sleep(1.0)
    tasks.reap_stale_deployments_task()


def _slow_release_at_its_gate(api, worker, service, environment):
    """1.0.0 serving, then the slow release waiting on its health gate."""
    first = deploy(api, worker, service.slug, environment, "1.0.0")
    assert first["status"] == "succeeded", log_messages(first)
    url = accepted(ask_to_deploy(api, service.slug, environment, SLOW))
    wait_for(
        lambda: api.get(url).json(),
        lambda body: any(m.startswith("waiting up to") for m in log_messages(body)),
        30,
        what="the slow release to reach its health gate",
    )
    return first, url


def _kill_worker_and_reap(api, worker, url, monkeypatch):
    """Kill the worker mid-deployment, reap, restart it; the ended deployment."""
    worker.kill()
    try:
        assert api.get(url).json()["status"] == "running"
        _reap_now(monkeypatch)
    finally:
        worker.start()
    abandoned = api.get(url).json()
    assert abandoned["status"] == "failed"
    assert abandoned["error"] == REAPED
    return abandoned


def test_worker_killed_mid_deploy_ends_failed_and_the_service_keeps_serving(
    api, celery_worker, e2e_service, environment, docker_client, monkeypatch
):
    service = e2e_service(environment)
    first, url = _slow_release_at_its_gate(api, celery_worker, service, environment)

    abandoned = _kill_worker_and_reap(api, celery_worker, url, monkeypatch)
    assert f"failed: {REAPED}" in log_messages(abandoned)
    assert abandoned["isCurrent"] is False
    (left,) = containers_of(docker_client, service.slug)
    assert left.startswith(f"mech-{service.slug}-{environment}-{first['id']}-")
    assert api.get(first["url"]).json()["isCurrent"] is True
    assert fetch(first["address"], "/version") == (200, "1.0.0\n")
    # The restarted worker takes the next deployment of the same pair.
    after = deploy(api, celery_worker, service.slug, environment, "1.1.0")
    assert after["status"] == "succeeded", log_messages(after)


def test_worker_killed_mid_recreate_gets_the_stopped_release_restored(
    api, celery_worker, e2e_service, docker_environment, monkeypatch
):
    environment = docker_environment("e2e-recreate-reaped", strategy="recreate").name
    service = e2e_service(environment)
    first, url = _slow_release_at_its_gate(api, celery_worker, service, environment)
    assert refuses_connections(first["address"]), "recreate stops the old first"

    abandoned = _kill_worker_and_reap(api, celery_worker, url, monkeypatch)
    listed = api.get(f"/api/deployments?serviceId={service.slug}").json()["results"]
    (restore,) = [d for d in listed if d["rollbackOf"] == abandoned["id"]]
    restore = wait_until_finished(api, celery_worker, restore["url"], "the restore")
    assert restore["status"] == "succeeded", log_messages(restore)
    assert (restore["version"], restore["trigger"]) == ("1.0.0", "system")
    assert fetch(restore["address"], "/version") == (200, "1.0.0\n")
    abandoned = api.get(url).json()
    assert abandoned["rolledBackTo"] == "1.0.0"
    assert f"queued #{restore['id']} to restore 1.0.0" in log_messages(abandoned)

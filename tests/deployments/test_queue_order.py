"""Queued deployments keep their order.

Between one deployment ending and the next queued one being started, a new
request must not slip in ahead of those already waiting; and a queue that
nothing is working through is started again.
"""

import pytest
from django.db import IntegrityError

from deployments import actions, tasks
from deployments.choices import DeploymentStatus
from deployments.models import Deployment, Environment, Release
from tests.catalog import add_service, definition
from tests.deployments.steps import set_variables, unsent_deployment

pytestmark = pytest.mark.django_db

REQUIRED = {"MONGODB_URI": "mongodb://127.0.0.1:27017/search", "API_KEY": "k-1"}


@pytest.fixture
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(tasks.run_deployment_task, "delay", ids.append)
    return ids


@pytest.fixture
def pair(api):
    service = add_service(definition())
    environment = Environment.objects.create(name="sandbox", backend="process")
    set_variables(api, "mech-search", "sandbox", REQUIRED)
    return service, environment


def _deployment(pair, status, version="1.0.0"):
    return unsent_deployment(*pair, version, status=status)


def request(api, queue=False):
    body = {"serviceId": "mech-search", "environment": "sandbox", "version": "1.1.0"}
    if queue:
        body["queue"] = True
    return api.post("/api/deployments", body, format="json")


def test_a_request_without_queue_is_refused_while_others_wait(api, pair, sent):
    waiting = _deployment(pair, DeploymentStatus.QUEUED)

    response = request(api)

    assert response.status_code == 409
    assert response.json()["activeDeploymentId"] == waiting.pk
    assert "is queued" in response.json()["message"]
    assert sent == []


def test_a_queued_request_goes_behind_those_waiting_which_start_first(
    api, pair, sent, django_capture_on_commit_callbacks
):
    waiting = _deployment(pair, DeploymentStatus.QUEUED)

    with django_capture_on_commit_callbacks(execute=True):
        response = request(api, queue=True)

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    waiting.refresh_from_db()
    assert waiting.status == DeploymentStatus.PENDING
    assert sent == [waiting.pk]


def test_the_reaper_starts_a_queue_nothing_works_through(
    pair, sent, django_capture_on_commit_callbacks
):
    first = _deployment(pair, DeploymentStatus.QUEUED)
    second = _deployment(pair, DeploymentStatus.QUEUED, "1.1.0")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.start_stalled_queues()
        tasks.start_stalled_queues()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("pending", "queued")
    assert sent == [first.pk]


def test_the_reaper_leaves_a_queue_behind_a_running_deployment(pair, sent):
    _deployment(pair, DeploymentStatus.RUNNING)
    waiting = _deployment(pair, DeploymentStatus.QUEUED, "1.1.0")

    tasks.start_stalled_queues()

    waiting.refresh_from_db()
    assert waiting.status == DeploymentStatus.QUEUED
    assert sent == []
    assert actions.oldest_queued(*pair) == waiting


def test_a_queued_request_that_loses_the_race_for_the_slot_still_queues(
    api, pair, sent, monkeypatch
):
    """Two requests at once both see nothing active; the loser queues."""
    real_create = actions._create
    raced = []

    def racing(*args):
        if not raced:
            # The other request's pending row lands first; this insert fails.
            raced.append(_deployment(pair, DeploymentStatus.PENDING))
            raise IntegrityError("one_active_deployment")
        return real_create(*args)

    monkeypatch.setattr(actions, "_create", racing)

    response = request(api, queue=True)

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    assert response.json()["id"] != raced[0].pk


def test_a_queued_deployment_whose_release_turned_bad_ends_without_running(
    pair, sent, monkeypatch
):
    from deployments import runner

    service, environment = pair
    release = Release.objects.create(
        service=service,
        version="1.2.0",
        is_bad=True,
        bad_reason="health check /health failed: answered 404",
    )
    waiting = _deployment(pair, DeploymentStatus.PENDING, "1.2.0")
    Deployment.objects.filter(pk=waiting.pk).update(release=release)
    behind = _deployment(pair, DeploymentStatus.QUEUED, "1.1.0")
    monkeypatch.setattr(runner, "Rollout", None)  # nothing may be started

    runner.execute(waiting.pk)

    waiting.refresh_from_db()
    assert waiting.status == DeploymentStatus.FAILED
    assert waiting.error.startswith("release 1.2.0 was marked bad while this")
    assert "overrideBadRelease" in waiting.error
    assert waiting.log_lines.get().message == f"failed: {waiting.error}"
    behind.refresh_from_db()
    assert behind.status == DeploymentStatus.PENDING

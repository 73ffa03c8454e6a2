"""The reaper when a new request arrives while it works, or a step fails."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments import runner, tasks
from deployments.choices import DeploymentStatus
from deployments.models import Deployment, Environment
from tests.catalog import add_service, definition
from tests.deployments.steps import unsent_deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    unrouted = {"domains": [], "nginx": {"enabled": False}}
    service = add_service(definition(id="conflicts", deployment=unrouted))
    return service, Environment.objects.create(name="sandbox", backend="process")


def test_no_restore_is_queued_when_a_new_deployment_took_the_slot(pair, monkeypatch):
    long_ago = timezone.now() - timedelta(minutes=5)
    stopped = unsent_deployment(
        *pair,
        status=DeploymentStatus.SUCCEEDED,
        is_current=True,
        stopped_at=long_ago,
    )
    abandoned = unsent_deployment(
        *pair, "1.1.0", status=DeploymentStatus.RUNNING, heartbeat_at=long_ago
    )
    arrived = []

    def a_request_arrives(deployment, log):
        # While the reaper removes the stopped release, a request comes in.
        arrived.append(unsent_deployment(*pair, "1.2.0", status="pending"))

    monkeypatch.setattr(runner, "_discard", a_request_arrives)

    assert runner.reap(abandoned.pk, stale_before=timezone.now()) is True

    (newcomer,) = arrived
    messages = list(abandoned.log_lines.values_list("message", flat=True))
    assert messages[-1] == (
        f"not restoring {stopped.version}: deployment #{newcomer.pk} is pending"
    )
    assert not Deployment.objects.filter(rollback_of=abandoned).exists()


def test_a_failing_reaper_step_does_not_stop_the_others(pair, monkeypatch):
    calls = []

    def broken(*args):
        calls.append("reap")
        raise RuntimeError("engine unreachable")

    monkeypatch.setattr(runner, "reap", broken)
    monkeypatch.setattr(tasks, "resend_unclaimed", lambda *a: calls.append("resend"))
    monkeypatch.setattr(tasks, "start_stalled_queues", lambda: calls.append("queues"))
    long_ago = timezone.now() - timedelta(minutes=5)
    unsent_deployment(*pair, status=DeploymentStatus.RUNNING, heartbeat_at=long_ago)

    tasks.reap_stale_deployments_task()

    assert calls == ["reap", "resend", "queues"]

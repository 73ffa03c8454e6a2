"""Pending deployments no worker claimed are sent to the queue again.

A worker that died holding the message, or a broker that lost it, would
otherwise leave the deployment pending and its service blocked for good.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments import tasks
from deployments.choices import DeploymentStatus
from deployments.models import Deployment, Environment
from tests.catalog import add_service, definition
from tests.deployments.e2e_fixtures import (  # noqa: F401 (fixtures)
    docker_environment_fixture,
    e2e_images_fixture,
    e2e_service_fixture,
)
from tests.deployments.steps import (
    log_messages,
    unsent_deployment,
    wait_until_finished,
)
from tests.parts import REGISTRY


def _lost(service, environment, status=DeploymentStatus.PENDING, age_seconds=600):
    """A deployment row whose queue message never reaches a worker."""
    image = f"{REGISTRY}/tests/e2e:1.0.0"
    deployment = unsent_deployment(service, environment, image=image, status=status)
    created = timezone.now() - timedelta(seconds=age_seconds)
    Deployment.objects.filter(pk=deployment.pk).update(created_at=created)
    return deployment


@pytest.fixture
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(tasks.run_deployment_task, "delay", ids.append)
    return ids


@pytest.mark.django_db
def test_only_old_unclaimed_pending_deployments_are_sent_again(sent):
    unrouted = {"domains": [], "nginx": {"enabled": False}}
    service = add_service(definition(id="unclaimed", deployment=unrouted))
    environment = Environment.objects.get(name="staging")
    other = add_service(definition(id="unclaimed-other", deployment=unrouted))
    lost = _lost(service, environment)
    _lost(other, environment, age_seconds=5)
    _lost(other, Environment.objects.get(name="production"), DeploymentStatus.QUEUED)

    tasks.reap_stale_deployments_task()

    assert sent == [lost.pk]
    lost.refresh_from_db()
    assert lost.status == DeploymentStatus.PENDING
    assert lost.heartbeat_at is not None

    tasks.reap_stale_deployments_task()
    assert sent == [lost.pk], "sent again before UNCLAIMED_AFTER passed"

    resent_at = timezone.now() - tasks.UNCLAIMED_AFTER - timedelta(seconds=1)
    Deployment.objects.filter(pk=lost.pk).update(heartbeat_at=resent_at)
    tasks.reap_stale_deployments_task()
    assert sent == [lost.pk, lost.pk]


@pytest.mark.docker
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_lost_deployment_is_run_by_a_worker_once_sent_again(
    api, celery_worker, e2e_service, docker_environment
):
    environment = docker_environment("e2e-unclaimed", strategy="recreate")
    service = e2e_service(environment.name)
    lost = _lost(service, environment)

    tasks.reap_stale_deployments_task()

    done = wait_until_finished(api, celery_worker, f"/api/deployments/{lost.pk}")
    assert done["status"] == "succeeded", log_messages(done)
    assert done["isCurrent"] is True

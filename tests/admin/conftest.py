"""Personas and catalog data for the admin tests; needs nothing else."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.choices import BackendKind, DeploymentStatus, Trigger
from deployments.models import ConfigValue, Deployment, DeploymentLogLine, Environment
from health.choices import HealthStatus
from health.models import CheckResult
from services.models import Endpoint, Service

SECRET = "hunter2-Zq81-never-shown"


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser(
        "operator", "operator@example.test", "operator-password"
    )


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def qa(db):
    """An environment whose backend does not depend on DOCKER_HOST."""
    return Environment.objects.create(name="qa", backend=BackendKind.PROCESS)


@pytest.fixture
def make_service(db):
    def make(slug, **fields):
        defaults = {
            "name": slug.replace("-", " ").title(),
            "port": 3000,
            "docker_image": slug,
            "process_command": "python app.py",
            "required_env": ["API_KEY"],
        }
        return Service.objects.create(slug=slug, **{**defaults, **fields})

    return make


@pytest.fixture
def service(make_service, qa):
    """A service ready to deploy to qa: its one required variable is set."""
    svc = make_service(
        "mech-search",
        description="Full-text search",
        repository_url="https://git.example.test/acme/mech-search",
        nginx_enabled=True,
    )
    Endpoint.objects.create(service=svc, path="/api/search", method="POST")
    ConfigValue.objects.create(service=svc, environment=qa, key="API_KEY", value=SECRET)
    return svc


@pytest.fixture
def make_deployment(db):
    def make(service, environment, version, **fields):
        started = timezone.now() - timedelta(minutes=5)
        defaults = {
            "status": DeploymentStatus.SUCCEEDED,
            "trigger": Trigger.API,
            "started_at": started,
            "finished_at": started + timedelta(seconds=12),
        }
        return Deployment.objects.create(
            service=service,
            environment=environment,
            version=version,
            **{**defaults, **fields},
        )

    return make


@pytest.fixture
def current_deployment(service, qa, make_deployment):
    """mech-search 1.0.0 serving in qa, checked healthy once, with a log."""
    deployment = make_deployment(service, qa, "1.0.0", is_current=True)
    for seq, message in enumerate(["starting 1.0.0", "healthy after 1 try"], 1):
        DeploymentLogLine.objects.create(
            deployment=deployment, seq=seq, message=message
        )
    CheckResult.objects.create(
        deployment=deployment,
        service=service,
        environment=qa,
        status=HealthStatus.UP,
        status_code=200,
        latency_ms=4.2,
        checked_at=timezone.now(),
    )
    return deployment

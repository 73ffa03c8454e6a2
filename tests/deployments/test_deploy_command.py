from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from deployments.choices import BackendKind, DeploymentStatus, Trigger
from deployments.models import Deployment, Environment, Release
from services.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    Environment.objects.update(backend=BackendKind.PROCESS)
    return Service.objects.create(
        slug="alpha-api", name="Alpha", port=8000, process_command="python3 app.py"
    )


def test_deploy_records_a_cli_deployment_and_queues_it(
    service, django_capture_on_commit_callbacks
):
    out = StringIO()

    with (
        mock.patch("deployments.tasks.run_deployment_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("deploy", "alpha-api", "staging", "1.0.0", stdout=out)

    deployment = Deployment.objects.get()
    assert (deployment.trigger, deployment.version) == (Trigger.CLI, "1.0.0")
    assert deployment.status == DeploymentStatus.PENDING
    delay.assert_called_once_with(deployment.pk)
    assert out.getvalue() == (
        f"deployment #{deployment.pk}: deploy of alpha-api 1.0.0 to staging "
        "is pending\n"
    )


def test_a_bad_release_is_refused_from_the_command_line_unless_overridden(service):
    Release.objects.create(
        service=service, version="1.2.0", is_bad=True, bad_reason="x"
    )

    with pytest.raises(CommandError, match="bad_release"):
        call_command("deploy", "alpha-api", "staging", "1.2.0", stdout=StringIO())
    assert Deployment.objects.count() == 0

    with mock.patch("deployments.tasks.run_deployment_task.delay"):
        call_command(
            "deploy",
            "alpha-api",
            "staging",
            "1.2.0",
            "--override-bad-release",
            stdout=StringIO(),
        )
    assert Deployment.objects.get().override_bad_release is True


def test_unknown_environment_is_a_clear_error(service):
    with pytest.raises(CommandError, match="no environment named 'qa'"):
        call_command("deploy", "alpha-api", "qa", "1.0.0")

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


@pytest.mark.parametrize("seconds", ["-5", "0", "nan", "inf", "soon"])
def test_a_wait_that_is_not_a_positive_number_is_refused_before_deploying(
    service, seconds
):
    with (
        mock.patch("deployments.tasks.run_deployment_task.delay") as delay,
        pytest.raises(CommandError, match="--wait: must be a finite number"),
    ):
        call_command("deploy", "alpha-api", "staging", "1.0.0", "--wait", seconds)

    assert Deployment.objects.count() == 0
    delay.assert_not_called()


def test_a_bad_wait_on_the_command_line_exits_2_naming_the_option(service, capsys):
    from deployments.management.commands.deploy import Command

    argv = ["manage.py", "deploy", "alpha-api", "staging", "1.0.0", "--wait", "-5"]
    with pytest.raises(SystemExit) as exit_:
        Command().run_from_argv(argv)

    assert exit_.value.code == 2
    assert "argument --wait: must be a finite number" in capsys.readouterr().err
    assert Deployment.objects.count() == 0


def test_a_wait_that_runs_out_is_a_command_error_and_the_deployment_goes_on(
    service,
):
    with (
        mock.patch("deployments.tasks.run_deployment_task.delay"),
        mock.patch("deployments.management.commands.deploy.POLL_SECONDS", 0.01),
        pytest.raises(CommandError, match=r"still pending after 0\.05s"),
    ):
        call_command(
            "deploy",
            "alpha-api",
            "staging",
            "1.0.0",
            "--wait",
            "0.05",
            stdout=StringIO(),
        )

    assert Deployment.objects.get().status == DeploymentStatus.PENDING

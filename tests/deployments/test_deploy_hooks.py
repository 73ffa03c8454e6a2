"""Deploy hooks: a token that deploys one service to one environment."""

import json
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.choices import Role
from deployments.choices import Trigger
from deployments.hooks import issue_hook, revoke_hook
from deployments.models import DeployHook, Deployment, Release
from registry.choices import Interface
from registry.models import AuditEntry

pytestmark = pytest.mark.django_db

URL = "/api/hooks/deploy"


@pytest.fixture
def delay():
    with mock.patch("deployments.tasks.run_deployment_task.delay") as patched:
        yield patched


def _call(token, body):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post(URL, body, format="json")


def test_a_hook_deploys_its_service_as_a_webhook(world, delay):
    developer = world["users"][Role.DEVELOPER]
    hook, token = issue_hook(world["own"], world["staging"], developer, "ci")

    response = _call(token, {"version": "1.0.0"})

    assert response.status_code == 202, response.content
    deployment = Deployment.objects.get()
    assert (deployment.service, deployment.environment) == (
        world["own"],
        world["staging"],
    )
    assert deployment.trigger == Trigger.WEBHOOK
    assert deployment.requested_by == developer
    assert response["Location"].endswith(f"/api/deployments/{deployment.pk}")
    entry = AuditEntry.objects.filter(
        object_id=str(deployment.pk), content_type__model="deployment"
    ).get()
    assert entry.interface == Interface.WEBHOOK
    assert entry.actor_name == "developer (hook ci)"


def test_the_token_is_stored_only_as_a_hash(world):
    hook, token = issue_hook(
        world["own"], world["staging"], world["users"][Role.DEVELOPER], "ci"
    )

    stored = DeployHook.objects.filter(pk=hook.pk).values().get()

    assert token not in [str(value) for value in stored.values()]
    audit = [json.dumps(entry.changes) for entry in AuditEntry.objects.all()]
    assert audit and all(token not in text for text in audit)


@pytest.mark.parametrize(
    "token", ["", "mrh_nothing", "mrk_an-api-key-is-not-a-hook-token"]
)
def test_a_missing_or_wrong_token_is_refused_and_nothing_is_deployed(
    world, delay, token
):
    response = _call(token, {"version": "1.0.0"})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert Deployment.objects.count() == 0


def test_a_revoked_hook_stops_working_at_once(world, delay):
    hook, token = issue_hook(
        world["own"], world["staging"], world["users"][Role.DEVELOPER], "ci"
    )
    revoke_hook(hook)

    response = _call(token, {"version": "1.0.0"})

    assert response.status_code == 401
    assert Deployment.objects.count() == 0


def test_a_hook_never_grants_more_than_its_creator_has(world, delay):
    # Developers may not deploy to production, a protected environment.
    hook, token = issue_hook(
        world["own"], world["production"], world["users"][Role.DEVELOPER], "ci"
    )

    response = _call(token, {"version": "1.0.0"})

    assert response.status_code == 403
    assert Deployment.objects.count() == 0


def test_a_bad_release_is_refused_through_a_hook_unless_overridden(world, delay):
    Release.objects.create(
        service=world["own"], version="1.2.0", is_bad=True, bad_reason="failed gate"
    )
    _, token = issue_hook(
        world["own"], world["staging"], world["users"][Role.DEVELOPER], "ci"
    )

    refused = _call(token, {"version": "1.2.0"})
    accepted = _call(token, {"version": "1.2.0", "overrideBadRelease": True})

    assert refused.status_code == 400
    assert refused.json()["code"] == "bad_release"
    assert accepted.status_code == 202
    assert Deployment.objects.get().override_bad_release is True


def test_wrong_tokens_past_the_limit_get_429_and_a_valid_one_still_deploys(
    world, delay, settings
):
    settings.MECH = {**settings.MECH, "FAILED_AUTH_LIMIT": 3}
    _, token = issue_hook(
        world["own"], world["staging"], world["users"][Role.DEVELOPER], "ci"
    )
    wrong = [_call("mrh_wrong0000", {"version": "1.0.0"}) for _ in range(4)]

    response = _call(token, {"version": "1.0.0"})

    assert [r.status_code for r in wrong] == [401, 401, 401, 429]
    assert int(wrong[-1]["Retry-After"]) > 0
    assert response.status_code == 202
    assert Deployment.objects.count() == 1


def test_the_command_prints_the_token_last_and_checks_the_creator(world):
    out = StringIO()

    call_command(
        "create_deploy_hook",
        world["own"].slug,
        "staging",
        "--user",
        "developer",
        stdout=out,
    )

    token = out.getvalue().splitlines()[-1]
    assert token.startswith("mrh_")
    assert DeployHook.objects.get().created_by == world["users"][Role.DEVELOPER]
    with pytest.raises(CommandError, match="may not deploy there"):
        call_command(
            "create_deploy_hook",
            world["own"].slug,
            "production",
            "--user",
            "developer",
            stdout=StringIO(),
        )

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.choices import Action, Role
from accounts.permissions import can
from tests.accounts.personas import make_service

pytestmark = pytest.mark.django_db


def _developer(name="dana"):
    user = get_user_model().objects.create_user(name)
    user.groups.add(Group.objects.get(name=Role.DEVELOPER))
    return user


def test_granting_a_team_lets_its_members_deploy_only_that_service():
    dana = _developer()
    own, other = make_service("alpha-api"), make_service("beta-api")
    dana.groups.add(Group.objects.create(name="alpha"))
    out = StringIO()

    call_command(
        "grant_access",
        "alpha-api",
        "--team",
        "alpha",
        "--action",
        "view",
        "--action",
        "deploy",
        stdout=out,
    )

    dana = get_user_model().objects.get(pk=dana.pk)
    assert can(dana, Action.DEPLOY, own) is True
    assert can(dana, Action.DEPLOY, other) is False
    assert out.getvalue() == "view, deploy on alpha-api granted to team alpha\n"


def test_revoke_takes_the_action_back():
    dana = _developer()
    service = make_service("alpha-api")
    call_command("grant_access", "alpha-api", "--user", "dana", stdout=StringIO())

    call_command(
        "grant_access", "alpha-api", "--user", "dana", "--revoke", stdout=StringIO()
    )

    dana = get_user_model().objects.get(pk=dana.pk)
    assert can(dana, Action.VIEW, service) is False


def test_unknown_service_or_user_is_refused_and_nothing_is_granted():
    dana = _developer()
    service = make_service("alpha-api")

    with pytest.raises(CommandError, match="no such service: nope"):
        call_command("grant_access", "alpha-api", "nope", "--user", "dana")
    with pytest.raises(CommandError, match="no such user: ghost"):
        call_command("grant_access", "alpha-api", "--user", "ghost")

    dana = get_user_model().objects.get(pk=dana.pk)
    assert can(dana, Action.VIEW, service) is False

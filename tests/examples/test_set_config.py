from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from deployments.choices import LedgerKind, Trigger
from deployments.models import ConfigValue, Environment, LedgerEntry
from services.actions import import_files
from services.models import Service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "s3cr3t-value-that-must-not-leak"

pytestmark = pytest.mark.django_db


@pytest.fixture
def search():
    import_files([EXAMPLES / "mech-search"])
    return Service.objects.get(slug="mech-search")


def set_config(*args, **env):
    out, err = StringIO(), StringIO()
    call_command("set_config", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def stored(service, key, environment="staging"):
    return ConfigValue.objects.get(
        service=service, environment__name=environment, key=key
    )


def test_set_config_prints_keys_and_never_values(search):
    out, err = set_config(
        "mech-search", "staging", f"SEARCH_INDEX={SECRET}", f"LOG_LEVEL={SECRET}x"
    )

    assert SECRET not in out + err
    assert out.splitlines()[:2] == ["created   SEARCH_INDEX", "created   LOG_LEVEL"]
    assert stored(search, "SEARCH_INDEX").value == SECRET


def test_set_config_reports_updated_and_unchanged_without_values(search):
    set_config("mech-search", "staging", "SEARCH_INDEX=first")

    out, err = set_config(
        "mech-search", "staging", f"SEARCH_INDEX={SECRET}", "LOG_LEVEL=debug"
    )
    again, _ = set_config("mech-search", "staging", f"SEARCH_INDEX={SECRET}")

    assert out.splitlines()[:2] == ["updated   SEARCH_INDEX", "created   LOG_LEVEL"]
    assert again.splitlines()[0] == "unchanged SEARCH_INDEX"
    assert SECRET not in out + err + again
    assert stored(search, "SEARCH_INDEX").value == SECRET


def test_set_config_stores_values_encrypted(search):
    set_config("mech-search", "staging", f"SEARCH_INDEX={SECRET}")

    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM deployments_configvalue")
        (raw,) = cursor.fetchone()

    assert SECRET not in raw


def test_bare_key_takes_its_value_from_the_environment(search, monkeypatch):
    monkeypatch.setenv("SEARCH_INDEX", SECRET)

    out, err = set_config("mech-search", "production", "SEARCH_INDEX")

    assert SECRET not in out + err
    assert stored(search, "SEARCH_INDEX", "production").value == SECRET


def test_values_are_secret_unless_marked_public(search):
    set_config("mech-search", "staging", "SEARCH_INDEX=a")
    set_config("mech-search", "staging", "LOG_LEVEL=info", "--public")

    assert stored(search, "SEARCH_INDEX").secret is True
    assert stored(search, "LOG_LEVEL").secret is False


def test_undeclared_key_is_stored_with_a_warning(search):
    out, err = set_config("mech-search", "staging", f"OTHER={SECRET}")

    assert "does not declare OTHER" in err
    assert SECRET not in out + err
    assert stored(search, "OTHER").value == SECRET


def test_keep_existing_keeps_a_user_value_and_sets_a_missing_one(search):
    set_config("mech-search", "staging", f"SEARCH_INDEX={SECRET}")

    out, err = set_config(
        "mech-search",
        "staging",
        "SEARCH_INDEX=demo-staging",
        "LOG_LEVEL=info",
        "--public",
        "--keep-existing",
    )

    assert stored(search, "SEARCH_INDEX").value == SECRET
    assert stored(search, "SEARCH_INDEX").secret is True
    assert stored(search, "LOG_LEVEL").value == "info"
    assert out.splitlines()[:3] == [
        "kept      SEARCH_INDEX",
        "created   LOG_LEVEL",
        "1 key(s) set for mech-search in staging",
    ]
    assert SECRET not in out + err


def test_keep_existing_with_every_key_set_records_no_change(search):
    set_config("mech-search", "staging", f"SEARCH_INDEX={SECRET}")
    entries = LedgerEntry.objects.count()

    set_config("mech-search", "staging", "SEARCH_INDEX=demo", "--keep-existing")

    assert stored(search, "SEARCH_INDEX").value == SECRET
    assert LedgerEntry.objects.count() == entries


def test_set_config_records_its_change_as_made_from_the_command_line(search):
    set_config("mech-search", "staging", f"SEARCH_INDEX={SECRET}")

    entry = LedgerEntry.objects.get(kind=LedgerKind.CONFIG)
    assert entry.trigger == Trigger.CLI == "cli"
    assert entry.actor_label == "cli"
    assert entry.actor is None
    assert entry.reason == "set SEARCH_INDEX"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "staging", "A=1"), "no service with id 'nope'"),
        (("mech-search", "qa", "A=1"), "no environment 'qa'"),
        (("mech-search", "staging", "1A=1"), "'1A' is not a variable name"),
        (("mech-search", "staging", "UNSET_NAME_X"), "UNSET_NAME_X has no '=VALUE'"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_stored(search, args, message):
    with pytest.raises(CommandError, match=message):
        set_config(*args)

    assert ConfigValue.objects.count() == 0
    assert Environment.objects.filter(name="qa").exists() is False

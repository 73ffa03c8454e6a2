"""Secret values never reach the audit log, but changing one is recorded."""

import json

import pytest
from rest_framework.test import APIClient

from registry.audit import SECRET_CHANGED_MARKER, SECRET_MARKER
from registry.models import AuditEntry

pytestmark = pytest.mark.django_db

URL = "/api/services/alpha-api/variables/staging"


def put_variable(world, value, secret=True):
    client = APIClient()
    client.force_authenticate(world["users"]["maintainer"])
    body = [{"key": "DB_PASSWORD", "value": value, "secret": secret}]
    response = client.put(URL, body, format="json")
    assert response.status_code == 200, response.json()


def variable_entries(action):
    entries = AuditEntry.objects.filter(
        content_type__model="configvalue", action=action
    )
    return list(entries.order_by("id"))


def whole_log():
    return json.dumps(list(AuditEntry.objects.values()), default=str)


def test_changed_secret_value_is_recorded_as_changed_without_either_value(world):
    put_variable(world, "first-hunter2")

    put_variable(world, "second-hunter2")

    [update] = variable_entries("update")
    assert update.changes["value"] == [SECRET_MARKER, SECRET_CHANGED_MARKER]
    assert "first-hunter2" not in whole_log()
    assert "second-hunter2" not in whole_log()


def test_saving_the_same_secret_value_records_no_value_change(world):
    put_variable(world, "same-hunter2")

    put_variable(world, "same-hunter2")

    assert all("value" not in e.changes for e in variable_entries("update"))


def test_secret_flag_is_recorded_in_the_clear(world):
    put_variable(world, "flag-hunter2", secret=False)

    put_variable(world, "flag-hunter2", secret=True)

    [create] = variable_entries("create")
    [update] = variable_entries("update")
    assert create.changes["secret"] == [None, False]
    assert update.changes["secret"] == [False, True]
    assert "value" not in update.changes


def test_password_change_is_recorded_as_changed_without_either_hash(world):
    viewer = world["users"]["viewer"]
    old_hash = viewer.password

    viewer.set_password("a-new-passphrase")
    viewer.save()

    entry = AuditEntry.objects.filter(content_type__model="user").latest("id")
    assert entry.object_id == str(viewer.pk)
    assert entry.changes["password"] == [SECRET_MARKER, SECRET_CHANGED_MARKER]
    assert old_hash not in whole_log()
    assert viewer.password not in whole_log()

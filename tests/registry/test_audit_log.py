import json
from unittest import mock

import pytest
from django.contrib.admin.sites import site
from django.db import connection, transaction
from django.db.utils import DatabaseError
from rest_framework.test import APIClient

from accounts.models import ApiKey
from registry.audit import SECRET_MARKER
from registry.models import AuditEntry, AuditLogImmutable
from tests.accounts.personas import make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return make_world()


def key_client(user):
    api_key, raw_key = ApiKey.issue(user, "ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client, api_key


def test_secret_set_through_the_api_is_recorded_without_its_value(world):
    client, api_key = key_client(world["users"]["maintainer"])
    body = [{"key": "DB_PASSWORD", "value": "hunter2-value", "secret": False}]

    response = client.put(
        "/api/services/alpha-api/variables/staging",
        body,
        format="json",
        REMOTE_ADDR="127.0.0.9",
    )

    entry = AuditEntry.objects.get(content_type__model="configvalue")
    assert response.status_code == 200
    assert entry.interface == "api"
    assert entry.actor_name == "maintainer"
    assert entry.api_key_id == api_key.pk
    assert entry.address == "127.0.0.9"
    assert entry.action == "create"
    assert entry.changes["value"] == [None, SECRET_MARKER]
    assert "hunter2-value" not in json.dumps(
        list(AuditEntry.objects.values()), default=str
    )


def test_deployment_request_is_recorded_with_who_asked(world):
    client, _ = key_client(world["users"]["developer"])
    body = {"serviceId": "alpha-api", "environment": "staging", "version": "1.0.0"}

    with mock.patch("deployments.tasks.run_deployment_task.delay"):
        client.post("/api/deployments", body, format="json")

    entry = AuditEntry.objects.get(content_type__model="deployment")
    assert (entry.action, entry.actor_name) == ("create", "developer")
    assert entry.changes["version"] == [None, "1.0.0"]


def test_user_change_in_the_admin_records_before_and_after(world, client):
    admin = world["users"]["admin"]
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    before = AuditEntry.objects.count()

    response = client.post(
        f"/admin/auth/user/{world['users']['viewer'].pk}/change/",
        {
            "username": "viewer",
            "is_active": "on",
            "last_login_0": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "first_name": "Vera",
        },
    )

    entry = AuditEntry.objects.order_by("-id").first()
    assert response.status_code == 302
    assert AuditEntry.objects.count() > before
    assert entry.interface == "admin"
    assert entry.actor_name == "admin"
    assert any(
        e.changes.get("first_name") == ["", "Vera"]
        for e in AuditEntry.objects.filter(content_type__model="user")
    )


def test_group_membership_change_is_recorded(world):
    viewer = world["users"]["viewer"]
    from django.contrib.auth.models import Group

    viewer.groups.add(Group.objects.get(name="maintainer"))

    entry = AuditEntry.objects.order_by("-id").first()
    assert entry.object_id == str(viewer.pk)
    assert list(entry.changes["groups"]) == ["add"]


def test_audit_api_is_for_admins_only_and_searchable(world):
    admin_client, _ = key_client(world["users"]["admin"])
    viewer_client, _ = key_client(world["users"]["viewer"])

    found = admin_client.get("/api/audit", {"search": "alpha-api"}).json()
    denied = viewer_client.get("/api/audit")

    assert denied.status_code == 403
    assert found["count"] >= 1
    assert {e["object"] for e in found["results"]} >= {"alpha-api"}


def _an_entry():
    return AuditEntry.objects.order_by("id").first()


def test_orm_refuses_to_change_or_delete_entries(world):
    entry = _an_entry()
    entry.object_repr = "forged"

    with pytest.raises(AuditLogImmutable):
        entry.save()
    with pytest.raises(AuditLogImmutable):
        entry.delete()
    with pytest.raises(AuditLogImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(object_repr="forged")
    with pytest.raises(AuditLogImmutable):
        AuditEntry.objects.filter(pk=entry.pk).delete()

    assert AuditEntry.objects.get(pk=entry.pk).object_repr != "forged"


@pytest.mark.parametrize("statement", ["UPDATE", "DELETE"])
def test_database_refuses_raw_changes_to_entries(world, statement):
    assert connection.vendor == "postgresql"
    entry = _an_entry()
    sql = {
        "UPDATE": "UPDATE registry_auditentry SET object_repr = 'forged' WHERE id = %s",
        "DELETE": "DELETE FROM registry_auditentry WHERE id = %s",
    }[statement]

    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])

    assert AuditEntry.objects.get(pk=entry.pk).object_repr == entry.object_repr


def test_admin_offers_no_way_to_change_or_delete_entries(world, client, rf):
    admin = world["users"]["admin"]
    admin.is_staff = True
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    entry = _an_entry()
    model_admin = site._registry[AuditEntry]
    request = rf.get("/")
    request.user = admin

    delete = client.post(
        f"/admin/registry/auditentry/{entry.pk}/delete/", {"post": "yes"}
    )
    change = client.post(
        f"/admin/registry/auditentry/{entry.pk}/change/", {"object_repr": "x"}
    )

    assert delete.status_code == 403
    assert change.status_code == 403
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_audit_api_is_read_only(world, method):
    client, _ = key_client(world["users"]["admin"])
    entry = _an_entry()

    response = getattr(client, method)(f"/api/audit/{entry.pk}", {}, format="json")

    assert response.status_code == 405
    assert AuditEntry.objects.filter(pk=entry.pk).exists()

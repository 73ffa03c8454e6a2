"""The per-service, per-environment ledger: numbering, config versions, API."""

import threading

import pytest
from django.db import connection, connections
from django.urls import reverse

from deployments import ledger
from deployments.choices import LedgerKind, Trigger
from deployments.models import Environment, LedgerEntry
from services.models import Service

WRITERS = 6
ENTRIES_PER_WRITER = 5


def _service(slug="ledger-app"):
    return Service.objects.create(slug=slug, name=slug, port=8080)


@pytest.fixture
def service(db):
    return _service()


@pytest.fixture
def staging(db):
    return Environment.objects.get_or_create(name="staging")[0]


@pytest.fixture
def production(db):
    return Environment.objects.get_or_create(name="production")[0]


def _deploy(service, environment, version="1.0.0"):
    return ledger.record(
        service, environment, LedgerKind.DEPLOY, trigger=Trigger.API, version=version
    )


def test_numbers_count_up_per_service_and_environment(service, staging, production):
    other = _service("ledger-other")

    numbers = [
        _deploy(service, staging).number,
        _deploy(service, staging).number,
        _deploy(service, production).number,
        _deploy(other, staging).number,
        _deploy(service, staging).number,
    ]

    assert numbers == [1, 2, 1, 1, 3]


def test_config_version_counts_config_entries_of_the_pair(service, staging):
    def config():
        return ledger.record(
            service, staging, LedgerKind.CONFIG, trigger=Trigger.ADMIN
        ).config_version

    versions = [
        _deploy(service, staging).config_version,
        config(),
        _deploy(service, staging).config_version,
        config(),
        config(),
        ledger.record(
            service, staging, LedgerKind.ROLLBACK, trigger=Trigger.CLI
        ).config_version,
    ]

    assert versions == [0, 1, 1, 2, 3, 3]


def test_record_keeps_every_fact(service, staging, admin_user):
    digest = "sha256:" + "ab" * 32

    entry = ledger.record(
        service,
        staging,
        LedgerKind.PROMOTION,
        actor=admin_user,
        trigger=Trigger.WEBHOOK,
        version="1.2.0",
        digest=digest,
        reason="promote what staging runs",
    )
    entry.refresh_from_db()

    assert (
        entry.number,
        entry.kind,
        entry.actor,
        entry.actor_label,
        entry.trigger,
        entry.version,
        entry.digest,
        entry.reason,
    ) == (
        1,
        "promotion",
        admin_user,
        "admin",
        "webhook",
        "1.2.0",
        digest,
        "promote what staging runs",
    )


def test_explicit_actor_label_and_long_reason(service, staging):
    entry = ledger.record(
        service,
        staging,
        LedgerKind.DEPLOY,
        actor_label="ci-bot",
        trigger=Trigger.CLI,
        reason="x" * 600,
    )

    assert entry.actor is None
    assert entry.actor_label == "ci-bot"
    assert len(entry.reason) == ledger.REASON_MAX_LENGTH


@pytest.mark.parametrize(
    ("kind", "trigger"), [("redeploy", Trigger.API), (LedgerKind.DEPLOY, "email")]
)
def test_unknown_kind_or_trigger_is_refused(service, staging, kind, trigger):
    with pytest.raises(ValueError):
        ledger.record(service, staging, kind, trigger=trigger)

    assert not LedgerEntry.objects.exists()


def test_entries_cannot_be_rewritten_or_deleted(service, staging):
    entry = _deploy(service, staging)

    entry.reason = "changed"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).update(reason="changed")
    with pytest.raises(TypeError):
        LedgerEntry.objects.all().delete()

    assert LedgerEntry.objects.get(pk=entry.pk).reason == ""


def test_record_inside_a_rolled_back_transaction_leaves_no_gap(service, staging):
    from django.db import transaction

    _deploy(service, staging)
    with pytest.raises(RuntimeError), transaction.atomic():
        _deploy(service, staging)
        raise RuntimeError("the deployment request failed")

    assert _deploy(service, staging).number == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_distinct_consecutive_numbers():
    assert connection.vendor == "postgresql"
    service = _service("ledger-race")
    environment = Environment.objects.get_or_create(name="staging")[0]
    start = threading.Barrier(WRITERS)
    failures = []

    def write(index):
        try:
            start.wait(timeout=10)
            for n in range(ENTRIES_PER_WRITER):
                kind = LedgerKind.CONFIG if (index + n) % 2 else LedgerKind.DEPLOY
                ledger.record(service, environment, kind, trigger=Trigger.API)
        except Exception as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    entries = list(
        LedgerEntry.objects.filter(service=service, environment=environment).order_by(
            "number"
        )
    )
    total = WRITERS * ENTRIES_PER_WRITER
    assert [e.number for e in entries] == list(range(1, total + 1))
    configs = 0
    for entry in entries:
        configs += entry.kind == LedgerKind.CONFIG
        assert entry.config_version == configs


def test_api_lists_one_environment_newest_first(api, service, staging, production):
    for version in ["1.0.0", "1.1.0", "1.2.0"]:
        _deploy(service, staging, version)
    _deploy(service, production, "1.0.0")
    url = reverse("service-ledger", args=[service.slug])

    response = api.get(url, {"environment": "staging", "pageSize": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [(e["number"], e["version"]) for e in body["results"]] == [
        (3, "1.2.0"),
        (2, "1.1.0"),
    ]
    assert set(body["results"][0]) == {
        "number",
        "environment",
        "kind",
        "version",
        "digest",
        "configVersion",
        "trigger",
        "actor",
        "actorLabel",
        "reason",
        "deploymentId",
        "createdAt",
    }
    assert body["results"][0]["environment"] == "staging"


def test_api_lists_every_environment_without_a_filter(
    api, service, staging, production
):
    _deploy(service, staging, "1.0.0")
    _deploy(service, production, "1.0.0")
    _deploy(service, staging, "1.1.0")

    body = api.get(reverse("service-ledger", args=[service.slug])).json()

    assert [(e["environment"], e["number"]) for e in body["results"]] == [
        ("staging", 2),
        ("production", 1),
        ("staging", 1),
    ]


def test_api_unknown_service_or_environment_is_not_found(api, service):
    unknown_service = api.get(reverse("service-ledger", args=["nope"]))
    unknown_environment = api.get(
        reverse("service-ledger", args=[service.slug]), {"environment": "nope"}
    )

    assert unknown_service.status_code == 404
    assert unknown_environment.status_code == 404
    assert unknown_environment.json()["code"] == "not_found"


def test_api_ledger_needs_authentication(anonymous, service):
    response = anonymous.get(reverse("service-ledger", args=[service.slug]))

    assert response.status_code in (401, 403)

"""A secret value reaches the service and nothing else.

The value is set through the variables API, injected into a container by a
real deploy, and printed by a release that dumps its environment when it
fails. Then every place a person or a log collector can read is scanned
for it: API answers, admin pages, the deployment log and ledger in the
database, the audit log, and the worker's own output.
"""

import json
import uuid

import pytest
from django.core import serializers
from django.db import connection
from django.urls import reverse

from deployments.models import ConfigValue, Deployment, DeploymentLogLine, LedgerEntry
from registry.models import AuditEntry
from tests.deployments.e2e_fixtures import (  # noqa: F401 (fixtures)
    docker_environment_fixture,
    e2e_images_fixture,
    e2e_service_fixture,
)
from tests.deployments.steps import (
    ask_to_deploy,
    deploy,
    log_messages,
    set_variables,
)

pytestmark = [
    pytest.mark.docker,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

# 1.3.0 prints its whole environment and exits.
LEAKY = "1.3.0"


def api_answers(api, slug, environment, deployments, secret):
    """Every API answer that could carry the value, with its label."""
    answers = {}
    for deployment in deployments:
        url = f"/api/deployments/{deployment['id']}"
        answers[url] = api.get(url)
        answers[f"{url}/log"] = api.get(f"{url}/log")
    reads = [
        f"/api/deployments?serviceId={slug}",
        f"/api/services/{slug}/variables/{environment}",
        f"/api/services/{slug}/releases",
        f"/api/services/{slug}/ledger",
        f"/api/services/{slug}",
        "/api/audit",
        "/api/environments",
    ]
    answers.update({path: api.get(path) for path in reads})
    answers["dry run"] = ask_to_deploy(api, slug, environment, "1.1.0", dryRun=True)
    answers["bad release refused"] = ask_to_deploy(api, slug, environment, LEAKY)
    # A refused write must not echo the value back in its error.
    answers["invalid variable refused"] = api.put(
        f"/api/services/{slug}/variables/{environment}",
        [{"key": "1-not-a-name", "value": secret, "secret": True}],
        format="json",
    )
    return answers


def admin_pages(admin_client, deployments):
    paths = [
        reverse("admin:deployments_deployment_changelist"),
        reverse("admin:deployments_configvalue_changelist"),
        reverse("admin:deployments_ledgerentry_changelist"),
        reverse("admin:deployments_release_changelist"),
        reverse("admin:registry_auditentry_changelist"),
    ]
    paths += [
        reverse("admin:deployments_deployment_change", args=[d["id"]])
        for d in deployments
    ]
    paths += [
        reverse("admin:deployments_configvalue_change", args=[pk])
        for pk in ConfigValue.objects.values_list("pk", flat=True)
    ]
    paths += [
        reverse("admin:registry_auditentry_change", args=[pk])
        for pk in AuditEntry.objects.values_list("pk", flat=True)
    ]
    return {path: admin_client.get(path) for path in paths}


def stored_rows():
    """The deployment log, deployments, ledger and audit log as JSON text."""
    rows = [
        *DeploymentLogLine.objects.all(),
        *Deployment.objects.all(),
        *LedgerEntry.objects.all(),
        *AuditEntry.objects.all(),
    ]
    return serializers.serialize("json", rows)


def stored_config_values():
    """The value column as stored, without the field decrypting it."""
    assert ConfigValue._meta.db_table == "deployments_configvalue"
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM deployments_configvalue")
        return [value for (value,) in cursor.fetchall()]


def test_secret_value_appears_in_no_response_log_page_or_record(
    api,
    admin_client,
    celery_worker,
    e2e_service,
    docker_environment,
    docker_client,
    caplog,
):
    secret = f"tok-{uuid.uuid4().hex}"
    environment = docker_environment("e2e-secrets", strategy="blue-green").name
    service = e2e_service(environment, optional=["API_TOKEN"])
    set_variables(api, service.slug, environment, {"API_TOKEN": secret})

    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")
    leaky = deploy(api, celery_worker, service.slug, environment, LEAKY)

    assert first["status"] == "succeeded", log_messages(first)
    handle = Deployment.objects.get(pk=first["id"]).handle
    injected = docker_client.containers.get(handle).attrs["Config"]["Env"]
    assert f"API_TOKEN={secret}" in injected
    assert leaky["status"] == "failed"
    # The release's output was logged, with the value masked.
    output = next(
        m for m in log_messages(leaky) if m.startswith("last output of the new")
    )
    assert "cannot start; my environment is:" in output
    assert "API_TOKEN=********" in output

    seen = {
        **{
            f"API {label}": r
            for label, r in api_answers(
                api, service.slug, environment, [first, leaky], secret
            ).items()
        },
        **{
            f"admin {path}": r
            for path, r in admin_pages(admin_client, [first, leaky]).items()
        },
    }
    for label, response in seen.items():
        assert response.status_code < 500, label
        assert secret not in response.content.decode(), label
    assert seen["API bad release refused"].status_code == 400
    assert seen["API invalid variable refused"].status_code == 400
    variables = json.loads(
        seen[f"API /api/services/{service.slug}/variables/{environment}"].content
    )
    assert {v["key"]: v["value"] for v in variables}["API_TOKEN"] is None
    assert secret not in stored_rows()
    stored = stored_config_values()
    assert len(stored) == 2
    assert all(secret not in value for value in stored)
    assert secret not in celery_worker.log_path.read_text(errors="replace")
    assert secret not in caplog.text

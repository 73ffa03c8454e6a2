"""``POST /api/deployments`` validates and records before any work starts."""

import pytest

from deployments.models import Deployment, Environment, Release
from tests.catalog import add_service, definition
from tests.deployments.steps import set_variables

pytestmark = pytest.mark.django_db

REQUIRED = {"MONGODB_URI": "mongodb://127.0.0.1:27017/search", "API_KEY": "k-1"}


@pytest.fixture
def target():
    service = add_service(definition())
    environment = Environment.objects.create(name="sandbox", backend="process")
    return service, environment


def request(api, version="1.0.0", service_id="mech-search", environment="sandbox"):
    return api.post(
        "/api/deployments",
        {"serviceId": service_id, "environment": environment, "version": version},
        format="json",
    )


def test_request_answers_202_with_id_url_and_location(api, target):
    set_variables(api, "mech-search", "sandbox", REQUIRED)

    response = request(api)

    assert response.status_code == 202
    body = response.json()
    deployment = Deployment.objects.get()
    assert body["id"] == deployment.pk
    assert body["url"] == f"http://testserver/api/deployments/{deployment.pk}"
    assert response["Location"] == body["url"]
    assert body["status"] == "pending"
    assert body["serviceId"] == "mech-search"
    assert body["environment"] == "sandbox"
    assert body["version"] == "1.0.0"
    assert body["requestedBy"] == "admin"
    assert body["trigger"] == "api"


def test_missing_required_variable_is_refused_by_name_and_nothing_recorded(api, target):
    set_variables(api, "mech-search", "sandbox", {"MONGODB_URI": "mongodb://x"})

    response = request(api)

    assert response.status_code == 400
    assert response.json() == {
        "code": "missing_variables",
        "message": "required variables have no value in sandbox: API_KEY",
        "missing": ["API_KEY"],
    }
    assert Deployment.objects.count() == 0


def test_invalid_version_is_refused_and_nothing_recorded(api, target):
    set_variables(api, "mech-search", "sandbox", REQUIRED)

    response = request(api, version="../1.0")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_version"
    assert Deployment.objects.count() == 0


def test_service_without_a_command_cannot_go_to_a_process_environment(api):
    add_service(definition(process=None))
    Environment.objects.create(name="sandbox", backend="process")

    response = request(api)

    assert response.status_code == 400
    assert response.json()["code"] == "no_command"
    assert Deployment.objects.count() == 0


def test_deployments_can_be_listed_by_service(api, target):
    set_variables(api, "mech-search", "sandbox", REQUIRED)
    add_service(definition(id="other", required=None))
    request(api)

    mine = api.get("/api/deployments?serviceId=mech-search").json()
    others = api.get("/api/deployments?serviceId=other").json()

    assert [d["serviceId"] for d in mine["results"]] == ["mech-search"]
    assert others["results"] == []


def test_deployment_detail_has_a_log_and_camel_case_keys(api, target):
    set_variables(api, "mech-search", "sandbox", REQUIRED)
    created = request(api).json()

    body = api.get(f"/api/deployments/{created['id']}").json()

    assert body["log"] == []
    assert [key for key in body if "_" in key] == []
    assert body["startedAt"] is None


def test_staging_and_production_exist_from_the_first_migration():
    names = set(Environment.objects.values_list("name", flat=True))

    assert {"staging", "production"} <= names


def test_dry_run_of_a_bad_release_says_it_would_not_deploy(api, target):
    service, environment = target
    set_variables(api, "mech-search", "sandbox", REQUIRED)
    Release.objects.create(
        service=service, version="1.2.0", is_bad=True, bad_reason="failed its gate"
    )
    body = {
        "serviceId": service.slug,
        "environment": environment.name,
        "version": "1.2.0",
        "dryRun": True,
    }

    refused = api.post("/api/deployments", body, format="json").json()
    overridden = api.post(
        "/api/deployments", {**body, "overrideBadRelease": True}, format="json"
    ).json()

    assert refused["wouldDeploy"] is False
    assert [p["code"] for p in refused["problems"]] == ["bad_release"]
    assert overridden["wouldDeploy"] is True
    assert Deployment.objects.count() == 0


def test_a_failed_deployment_cannot_be_rolled_back(api, target):
    service, environment = target
    failed = Deployment.objects.create(
        service=service,
        environment=environment,
        version="1.2.0",
        trigger="api",
        status="failed",
    )

    response = api.post(f"/api/deployments/{failed.pk}/rollback", {}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "not_rolled_out"
    assert Deployment.objects.count() == 1

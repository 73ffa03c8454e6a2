"""Every API endpoint needs authentication, and errors share one shape."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

# Endpoints that are public on purpose: signing in, and the schemas editors
# and API tools fetch.
PUBLIC = {
    ("/api/auth/token", "post"),
    ("/api/auth/token/refresh", "post"),
    ("/api/auth/logout", "post"),
}


def api_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, methods in schema["paths"].items():
        for method in methods:
            if method in ("get", "post", "put", "patch", "delete"):
                operations.append((path.rstrip("/"), method))
    return sorted(operations)


OPERATIONS = api_operations()


def test_schema_lists_the_core_endpoints():
    paths = {path for path, _ in OPERATIONS}

    assert {
        "/api/services",
        "/api/services/{id}",
        "/api/services/{id}/config",
        "/api/services/import",
        "/api/deployments",
        "/api/deployments/{id}",
        "/api/health/{service_id}",
    } <= paths


@pytest.mark.parametrize(
    ("path", "method"),
    [op for op in OPERATIONS if op not in PUBLIC],
    ids=[f"{m.upper()} {p}" for p, m in OPERATIONS if (p, m) not in PUBLIC],
)
def test_endpoint_answers_401_without_credentials(anonymous, path, method):
    url = re.sub(r"\{[^}]+\}", "x", path)

    response = getattr(anonymous, method)(url, {}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_validation_error_has_code_message_and_field_errors(api):
    response = api.post("/api/deployments", {"version": ""}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"] == "The request is not valid."
    assert body["errors"]["serviceId"] == ["This field is required."]
    assert body["errors"]["environment"] == ["This field is required."]
    assert body["errors"]["version"] == ["This field may not be blank."]


def test_unknown_references_are_field_errors(api):
    response = api.post(
        "/api/deployments",
        {"serviceId": "absent", "environment": "nowhere", "version": "1.0.0"},
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["serviceId"] == ["no service 'absent'"]
    assert errors["environment"] == ["no environment 'nowhere'"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/services/absent",
        "/api/services/absent/config",
        "/api/deployments/999999",
        "/api/health/absent",
        "/api/environments/absent",
    ],
)
def test_unknown_ids_are_404_with_the_error_shape(api, url):
    response = api.get(url)

    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert isinstance(body["message"], str) and body["message"]


def test_a_key_repeated_in_one_variables_request_is_refused(api):
    from deployments.models import ConfigValue
    from tests.catalog import add_service, definition

    add_service(definition())
    body = [
        {"key": "API_KEY", "value": "first"},
        {"key": "API_KEY", "value": "second"},
    ]

    response = api.put(
        "/api/services/mech-search/variables/staging", body, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "non_field_errors": ["each key may appear once; repeated: API_KEY"]
    }
    assert ConfigValue.objects.count() == 0

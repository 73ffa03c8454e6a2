"""``POST /api/services/import``, ``GET /api/services/{id}/config`` and the
published JSON Schema."""

import json

import pytest

from services.definition import parse_definition
from services.models import Service
from services.schema import SERVICE_CONFIG_SCHEMA
from tests.services.test_import_files import VALID
from tests.services.test_yaml_safety import PITFALLS

pytestmark = pytest.mark.django_db


def post_yaml(client, text, content_type="application/yaml"):
    return client.post(
        "/api/services/import", data=text.encode(), content_type=content_type
    )


def test_import_creates_then_answers_unchanged_then_updated(api):
    created = post_yaml(api, VALID)
    unchanged = post_yaml(api, VALID, content_type="text/yaml")
    updated = post_yaml(api, VALID.replace("port: 3000", "port: 3001"))

    assert created.status_code == 201
    assert created.json()["outcome"] == "created"
    assert created.json()["service"]["id"] == "mech-search"
    assert created.json()["service"]["configuration"]["port"] == 3000
    assert (unchanged.status_code, unchanged.json()["outcome"]) == (200, "unchanged")
    assert (updated.status_code, updated.json()["outcome"]) == (200, "updated")
    assert updated.json()["service"]["configuration"]["port"] == 3001
    assert Service.objects.get().port == 3001


def test_invalid_body_answers_400_naming_line_and_field_and_stores_nothing(api):
    text = VALID.replace("method: POST", "method: FETCH")

    response = post_yaml(api, text)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_definition"
    assert body["errors"] == [
        {
            "file": "request body",
            "line": 16,
            "field": "endpoints[0].method",
            "message": "'FETCH' is not one of GET, POST, PUT, PATCH, DELETE, "
            "HEAD, OPTIONS",
        }
    ]
    assert "request body:16: endpoints[0].method:" in body["message"]
    assert Service.objects.count() == 0


def test_import_needs_authentication(anonymous):
    response = post_yaml(anonymous, VALID)

    assert response.status_code == 401
    assert Service.objects.count() == 0


def test_export_returns_yaml_that_reads_back_to_the_same_definition(api):
    post_yaml(api, VALID)

    response = api.get("/api/services/mech-search/config")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    exported = response.content.decode()
    assert parse_definition(exported) == parse_definition(VALID)


@pytest.mark.parametrize("text", [VALID, PITFALLS], ids=["example", "pitfalls"])
def test_import_export_import_is_lossless(api, text):
    post_yaml(api, text)
    slug = parse_definition(text)["id"]
    before = Service.objects.values().get(slug=slug)
    endpoints = list(Service.objects.get(slug=slug).endpoints.values())

    exported = api.get(f"/api/services/{slug}/config").content.decode()
    again = post_yaml(api, exported)

    assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")
    assert Service.objects.values().get(slug=slug) == before
    assert list(Service.objects.get(slug=slug).endpoints.values()) == endpoints


def test_export_quotes_strings_a_yaml_11_reader_would_retype(api):
    post_yaml(api, PITFALLS)

    exported = api.get("/api/services/pitfalls/config").content.decode()

    assert "name: 'no'\n" in exported
    assert "description: 'on'\n" in exported
    assert "branch: '08'\n" in exported
    assert "- 'ON'\n" in exported


def test_export_of_unknown_service_is_404(api):
    response = api.get("/api/services/absent/config")

    assert response.status_code == 404


def test_json_schema_is_published_for_editors_without_auth(anonymous):
    response = anonymous.get("/api/schemas/service-config.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    schema = json.loads(response.content)
    assert schema == SERVICE_CONFIG_SCHEMA
    assert schema["required"] == ["id", "name", "configuration"]
    assert list(schema["properties"]) == [
        "id",
        "name",
        "description",
        "repository",
        "docker",
        "configuration",
        "deployment",
        "endpoints",
        "process",
    ]
    assert schema["properties"]["configuration"]["properties"]["port"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 65535,
    }


def test_an_oversized_body_is_refused_without_reading_it_all(api, settings):
    settings.MECH = {**settings.MECH, "MAX_CONFIG_BYTES": 4096}
    text = VALID + "#" * (10 * 1024 * 1024)

    response = post_yaml(api, text)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "file": "request body",
            "line": None,
            "field": "",
            "message": "file is larger than the limit of 4096 bytes",
        }
    ]
    assert Service.objects.count() == 0


def _maintainer_client(world):
    from accounts.choices import Role
    from tests.accounts.personas import client_for

    return client_for(world["users"][Role.MAINTAINER])


def test_only_registry_admins_may_set_a_process_command(world):
    maintainer = _maintainer_client(world)
    text = (
        "id: alpha-api\nname: Alpha\nconfiguration: {port: 8000}\n"
        "process: {command: sh -c id}\n"
    )

    response = post_yaml(maintainer, text)

    assert response.status_code == 403
    assert response.json()["code"] == "process_needs_admin"
    assert Service.objects.get(slug="alpha-api").process_command == (
        "python -m http.server $PORT"
    )


def test_a_maintainer_may_change_a_service_whose_command_stays_the_same(world):
    maintainer = _maintainer_client(world)
    text = (
        "id: alpha-api\nname: Renamed\nconfiguration: {port: 8000}\n"
        "process: {command: python -m http.server $PORT}\n"
    )

    response = post_yaml(maintainer, text)

    assert response.status_code == 200, response.content
    assert Service.objects.get(slug="alpha-api").name == "Renamed"

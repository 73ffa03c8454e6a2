"""``GET /api/services`` and ``GET /api/services/{id}``."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.catalog import add_service, definition

pytestmark = pytest.mark.django_db


def add_many(count):
    for index in range(count):
        add_service(
            definition(
                id=f"svc-{index:02d}",
                name=f"Service {index:02d}",
                description="searches documents" if index % 2 else "reads PDFs",
                docker=None if index % 3 == 0 else {"image": f"svc-{index:02d}"},
            )
        )


def camel_case_violations(value, path=""):
    """Keys with an underscore anywhere in a JSON document."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "_" in key:
                found.append(f"{path}.{key}")
            found += camel_case_violations(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += camel_case_violations(item, f"{path}[{index}]")
    return found


def test_detail_is_shaped_like_the_definition_with_camel_case_keys(api):
    add_service(definition())

    response = api.get("/api/services/mech-search")

    assert response.status_code == 200
    body = response.json()
    assert camel_case_violations(body) == []
    assert body["id"] == "mech-search"
    assert body["url"] == "http://testserver/api/services/mech-search"
    assert body["repository"] == {
        "url": "https://git.example.test/acme/mech-search",
        "branch": "main",
    }
    assert body["docker"] == {"registry": "127.0.0.1:5000/acme", "image": "mech-search"}
    assert body["configuration"] == {
        "port": 3000,
        "healthCheck": "/health",
        "environment": {
            "required": ["MONGODB_URI", "API_KEY"],
            "optional": ["LOG_LEVEL", "DEBUG"],
        },
    }
    assert body["deployment"] == {
        "domains": ["search.example.test"],
        "nginx": {"enabled": True, "ssl": True},
    }
    assert body["endpoints"] == [
        {"path": "/api/search", "method": "POST", "description": "Run a query"}
    ]
    assert {"createdAt", "updatedAt"} <= set(body)


def test_list_is_paginated_in_slug_order(api):
    add_many(5)

    first = api.get("/api/services?pageSize=2").json()
    last = api.get("/api/services?pageSize=2&page=3").json()

    assert first["count"] == 5
    assert [s["id"] for s in first["results"]] == ["svc-00", "svc-01"]
    assert first["next"] == "http://testserver/api/services?page=2&pageSize=2"
    assert first["previous"] is None
    assert [s["id"] for s in last["results"]] == ["svc-04"]
    assert last["next"] is None


def test_search_matches_name_and_description(api):
    add_many(5)

    by_description = api.get("/api/services?search=searches").json()
    by_name = api.get("/api/services?search=Service 03").json()

    assert [s["id"] for s in by_description["results"]] == ["svc-01", "svc-03"]
    assert [s["id"] for s in by_name["results"]] == ["svc-03"]


def test_filter_by_having_an_image(api):
    add_many(5)

    with_image = api.get("/api/services?hasImage=true").json()
    without_image = api.get("/api/services?hasImage=false").json()

    assert [s["id"] for s in with_image["results"]] == ["svc-01", "svc-02", "svc-04"]
    assert [s["id"] for s in without_image["results"]] == ["svc-00", "svc-03"]


def test_list_query_count_does_not_grow_with_the_catalog(api):
    add_many(2)
    api.get("/api/services")  # the first request also records the key's use
    with CaptureQueriesContext(connection) as small:
        assert api.get("/api/services").status_code == 200
    add_many(8)

    with CaptureQueriesContext(connection) as large:
        response = api.get("/api/services")

    assert response.json()["count"] == 8
    assert len(large) == len(small)


def test_unknown_service_is_404_with_the_error_shape(api):
    response = api.get("/api/services/absent")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert set(response.json()) == {"code", "message"}

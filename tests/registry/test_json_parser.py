"""Request bodies nested too deeply are refused with 400, never a 500."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

URL = "/api/deployments"


@pytest.fixture
def client(world):
    client = APIClient()
    client.force_authenticate(world["users"]["developer"])
    return client


def post_raw(client, body):
    return client.post(URL, body, content_type="application/json")


def test_body_nested_past_the_interpreter_limit_is_a_400_parse_error(client):
    body = '{"a":' * 100_000 + "1" + "}" * 100_000

    response = post_raw(client, body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "message": "JSON parse error - the body is nested too deeply.",
    }


def test_body_nested_past_the_parser_limit_is_a_400_parse_error(client):
    body = "[" * 101 + "]" * 101

    response = post_raw(client, body)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "nested too deeply" in response.json()["message"]


def test_body_nested_up_to_the_limit_reaches_validation(client):
    nested = "[" * 99 + "]" * 99
    body = '{"serviceId": "alpha-api", "environment": "staging", '
    body += f'"version": {nested}}}'

    response = post_raw(client, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "version" in response.json()["errors"]


def test_plain_syntax_errors_are_still_parse_errors(client):
    response = post_raw(client, '{"serviceId": ')

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"

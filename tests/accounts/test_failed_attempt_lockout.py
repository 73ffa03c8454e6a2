"""Failed attempts are counted per address; a valid credential still works.

Keys and hook tokens are accepted whenever they are valid. Passwords are
refused past the per-username limit even when right, but a locked-out address
does not keep other people behind it from signing in.
"""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey
from tests.accounts.personas import PASSWORD

pytestmark = pytest.mark.django_db

BAD_KEY = "mrk_deadbeef" + "x" * 40
SHARED = "127.0.0.20"
ELSEWHERE = "127.0.0.21"


@pytest.fixture
def limit_of_two(settings):
    settings.MECH = {**settings.MECH, "FAILED_AUTH_LIMIT": 2}


def get_services(raw_key, address=SHARED):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client.get("/api/services", REMOTE_ADDR=address)


def sign_in(username, password, address=SHARED):
    body = {"username": username, "password": password}
    return APIClient().post("/api/auth/token", body, REMOTE_ADDR=address)


def test_valid_key_is_accepted_after_bad_keys_from_its_address(world, limit_of_two):
    _, good = ApiKey.issue(world["users"]["viewer"], "ci")
    failed = [get_services(BAD_KEY).status_code for _ in range(3)]

    response = get_services(good)

    assert failed == [401, 401, 429]
    assert response.status_code == 200


def test_bad_key_past_the_limit_answers_429_with_retry_after(world, limit_of_two):
    _, good = ApiKey.issue(world["users"]["viewer"], "ci")
    for _ in range(2):
        get_services(BAD_KEY)
    get_services(good)

    response = get_services(BAD_KEY)
    elsewhere = get_services(BAD_KEY, address=ELSEWHERE)

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 900
    assert response.json()["code"] == "throttled"
    assert elsewhere.status_code == 401


def test_valid_keys_do_not_count_towards_the_limit(world, limit_of_two):
    _, good = ApiKey.issue(world["users"]["viewer"], "ci")
    for _ in range(5):
        assert get_services(good).status_code == 200

    failed = [get_services(BAD_KEY).status_code for _ in range(3)]

    assert failed == [401, 401, 429]


def test_right_password_signs_in_from_an_address_past_the_limit(world, limit_of_two):
    for name in ("admin", "maintainer"):
        assert sign_in(name, "wrong").status_code == 401

    response = sign_in("viewer", PASSWORD)

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_wrong_password_from_an_address_past_the_limit_answers_429(world, limit_of_two):
    for name in ("admin", "maintainer"):
        sign_in(name, "wrong")

    response = sign_in("viewer", "wrong")
    elsewhere = sign_in("developer", "wrong", address=ELSEWHERE)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert elsewhere.status_code == 401


def test_locked_username_refuses_its_right_password_from_any_address(
    world, limit_of_two
):
    sign_in("viewer", "wrong", address="127.0.0.30")
    sign_in("viewer", "wrong", address="127.0.0.31")

    response = sign_in("viewer", PASSWORD, address=ELSEWHERE)
    other_user = sign_in("developer", PASSWORD, address=ELSEWHERE)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert other_user.status_code == 200

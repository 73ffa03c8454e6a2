"""API keys and JWT both authenticate ``Authorization: Bearer ...``."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def bearer(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user("ada", password=PASSWORD)


def test_api_key_authenticates_and_records_its_use(ada):
    api_key, raw_key = ApiKey.issue(ada, "laptop")

    response = bearer(raw_key).get("/api/services")

    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_api_key_is_stored_only_as_a_hash(ada):
    api_key, raw_key = ApiKey.issue(ada, "laptop")

    stored = ApiKey.objects.values().get(pk=api_key.pk)

    assert raw_key.startswith("mrk_")
    assert raw_key not in [str(value) for value in stored.values()]


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_at": timezone.now()},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
    ],
    ids=["revoked", "expired"],
)
def test_unusable_api_key_is_rejected(ada, change):
    api_key, raw_key = ApiKey.issue(ada, "laptop")
    ApiKey.objects.filter(pk=api_key.pk).update(**change)

    response = bearer(raw_key).get("/api/services")

    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "Invalid or expired API key.",
    }


def test_key_with_a_right_lookup_but_wrong_secret_is_rejected(ada):
    _, raw_key = ApiKey.issue(ada, "laptop")
    forged = raw_key[:-4] + ("AAAA" if not raw_key.endswith("AAAA") else "BBBB")

    response = bearer(forged).get("/api/services")

    assert response.status_code == 401


def test_key_of_an_inactive_user_is_rejected(ada):
    _, raw_key = ApiKey.issue(ada, "laptop")
    ada.is_active = False
    ada.save()

    response = bearer(raw_key).get("/api/services")

    assert response.status_code == 401


def test_api_key_sent_with_another_scheme_is_not_accepted(ada):
    _, raw_key = ApiKey.issue(ada, "laptop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")

    response = client.get("/api/services")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_jwt_obtain_then_use_then_refresh(ada):
    anonymous = APIClient()

    obtained = anonymous.post(
        "/api/auth/token", {"username": "ada", "password": PASSWORD}, format="json"
    )
    assert obtained.status_code == 200
    tokens = obtained.json()
    assert set(tokens) == {"access", "refresh"}
    assert bearer(tokens["access"]).get("/api/services").status_code == 200

    refreshed = anonymous.post(
        "/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    new_access = refreshed.json()["access"]
    assert new_access != tokens["access"]
    assert bearer(new_access).get("/api/services").status_code == 200


def test_refresh_token_cannot_be_used_twice_after_rotation(ada):
    anonymous = APIClient()
    tokens = anonymous.post(
        "/api/auth/token", {"username": "ada", "password": PASSWORD}, format="json"
    ).json()
    anonymous.post(
        "/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )

    again = anonymous.post(
        "/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )

    assert again.status_code == 401
    assert again.json()["code"] == "token_not_valid"


def test_wrong_password_gets_no_token(ada):
    response = APIClient().post(
        "/api/auth/token", {"username": "ada", "password": "wrong"}, format="json"
    )

    assert response.status_code == 401
    assert "access" not in response.json()


def test_garbage_bearer_token_is_rejected():
    response = bearer("not-a-jwt-nor-a-key").get("/api/services")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"

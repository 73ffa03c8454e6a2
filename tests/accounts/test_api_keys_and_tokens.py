from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, hash_key
from deployments.models import Deployment
from tests.accounts.personas import PASSWORD

pytestmark = pytest.mark.django_db


def bearer(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def deploy(client, world):
    body = {"serviceId": "alpha-api", "environment": "staging", "version": "1.0.0"}
    with mock.patch("deployments.tasks.run_deployment_task.delay"):
        return client.post("/api/deployments", body, format="json")


def test_read_scoped_key_of_a_developer_cannot_deploy(world):
    _, raw_key = ApiKey.issue(world["users"]["developer"], "ci", scopes=["read"])

    response = deploy(bearer(raw_key), world)

    assert response.status_code == 403
    assert Deployment.objects.count() == 0


def test_deploy_scoped_key_never_exceeds_its_viewer_owner(world):
    _, raw_key = ApiKey.issue(world["users"]["viewer"], "ci", scopes=["deploy"])

    response = deploy(bearer(raw_key), world)

    assert response.status_code == 403


def test_key_limited_to_other_services_cannot_see_own_service(world):
    admin = world["users"]["admin"]
    _, raw_key = ApiKey.issue(admin, "ci", services=[world["other"]])

    listed = bearer(raw_key).get("/api/services").json()
    detail = bearer(raw_key).get("/api/services/alpha-api")

    assert [s["id"] for s in listed["results"]] == ["beta-api"]
    assert detail.status_code == 404


def test_revoked_key_is_refused_on_the_next_request(world):
    api_key, raw_key = ApiKey.issue(world["users"]["viewer"], "ci")
    client = bearer(raw_key)
    assert client.get("/api/services").status_code == 200

    api_key.revoke()

    assert client.get("/api/services").status_code == 401


def test_expired_key_is_refused(world):
    past = timezone.now() - timedelta(seconds=1)
    _, raw_key = ApiKey.issue(world["users"]["viewer"], "ci", expires_at=past)

    assert bearer(raw_key).get("/api/services").status_code == 401


def test_create_api_key_prints_a_working_key_last(world):
    out = StringIO()

    call_command(
        "create_api_key",
        "developer",
        "--name",
        "ci",
        "--scope",
        "deploy",
        "--service",
        "alpha-api",
        "--expires",
        "30d",
        stdout=out,
    )

    raw_key = out.getvalue().strip().splitlines()[-1]
    api_key = ApiKey.objects.get(key_hash=hash_key(raw_key))
    assert api_key.scopes == ["deploy"]
    assert list(api_key.services.values_list("slug", flat=True)) == ["alpha-api"]
    response = deploy(bearer(raw_key), world)
    assert response.status_code == 202, response.json()


def test_refresh_rotates_and_the_old_refresh_token_is_refused(world):
    client = APIClient()
    tokens = client.post(
        "/api/auth/token", {"username": "viewer", "password": PASSWORD}
    ).json()

    first = client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]})
    again = client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]})

    assert first.status_code == 200
    assert first.json()["refresh"] != tokens["refresh"]
    assert again.status_code == 401


def test_logout_blacklists_the_refresh_token(world):
    client = APIClient()
    tokens = client.post(
        "/api/auth/token", {"username": "viewer", "password": PASSWORD}
    ).json()

    logout = client.post("/api/auth/logout", {"refresh": tokens["refresh"]})
    refresh = client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]})

    assert logout.status_code == 200
    assert refresh.status_code == 401


def test_repeated_failed_logins_are_locked_out_with_retry_after(world, settings):
    settings.MECH = {**settings.MECH, "FAILED_AUTH_LIMIT": 3}
    client = APIClient()
    wrong = {"username": "viewer", "password": "wrong"}
    statuses = [client.post("/api/auth/token", wrong).status_code for _ in range(3)]

    right = client.post("/api/auth/token", {"username": "viewer", "password": PASSWORD})

    assert statuses == [401, 401, 401]
    assert right.status_code == 429
    assert int(right["Retry-After"]) > 0


@pytest.mark.parametrize("scope", ["user", "key"])
def test_request_rate_is_limited_per_caller_in_redis(world, settings, scope):
    settings.MECH = {
        **settings.MECH,
        "THROTTLE_RATES": {**settings.MECH["THROTTLE_RATES"], scope: "2/min"},
    }
    redis_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/14",
            "KEY_PREFIX": f"access-test-{scope}",
        }
    }
    with override_settings(CACHES=redis_cache):
        from django.core.cache import cache

        cache.clear()
        if scope == "key":
            client = bearer(ApiKey.issue(world["users"]["viewer"], "ci")[1])
        else:
            client = APIClient()
            client.force_authenticate(world["users"]["viewer"])
        statuses = [client.get("/api/services").status_code for _ in range(3)]
        last = client.get("/api/services")
        cache.clear()

    assert statuses == [200, 200, 429]
    assert int(last["Retry-After"]) > 0

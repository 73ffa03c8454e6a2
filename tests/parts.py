"""The real parts the suite runs against, and what a test does without one.

Tests talk to the machine's PostgreSQL and Redis and to a Docker engine and
registry on loopback. When one is missing, a test that needs it skips with
the reason; under CI (the ``CI`` variable set) it fails instead, so a green
CI run always means every part was really exercised.
"""

import functools
import os

import pytest
import requests
from django.conf import settings

REGISTRY = "127.0.0.1:5000"
PROBE_TIMEOUT = 3


def require_part(name, available, reason):
    """Go on when ``available``; otherwise skip, or fail under CI."""
    if available:
        return
    message = f"{name} is not available: {reason}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so a missing part fails)", pytrace=False)
    pytest.skip(message)


@functools.cache
def postgres_status():
    """``(available, reason)`` for the configured database being PostgreSQL."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return False, (
            f"DATABASE_URL selects {database['ENGINE']}; the suite needs "
            "PostgreSQL (scripts/test.sh sets it)"
        )
    import psycopg

    try:
        psycopg.connect(
            host=database["HOST"] or "127.0.0.1",
            port=database["PORT"] or 5432,
            user=database["USER"],
            password=database["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=PROBE_TIMEOUT,
        ).close()
    except psycopg.Error as exc:
        return False, f"cannot connect: {exc}".strip()
    return True, ""


@functools.cache
def redis_status(url):
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT).ping()
    except redis.RedisError as exc:
        return False, f"{url} does not answer: {exc}"
    return True, ""


@functools.cache
def docker_status():
    host = settings.MECH["DOCKER_HOST"]
    if not host:
        return False, "DOCKER_HOST is not set (scripts/test.sh starts dockerd)"
    import docker

    try:
        docker.DockerClient(base_url=host, timeout=PROBE_TIMEOUT * 3).ping()
    except docker.errors.DockerException as exc:
        return False, f"the engine at {host} does not answer: {exc}"
    return True, ""


@functools.cache
def registry_status():
    url = f"http://{REGISTRY}/v2/"
    session = requests.Session()
    session.trust_env = False
    try:
        response = session.get(url, timeout=PROBE_TIMEOUT)
    except requests.RequestException as exc:
        return False, f"{url} does not answer: {exc.__class__.__name__}"
    if response.status_code != 200:
        return False, f"{url} answered {response.status_code}"
    return True, ""

"""Fixtures shared by the whole suite.

The suite runs against real parts (see ``tests/parts.py``). Celery work goes
through the real broker on a queue of this run's own, consumed by a real
worker subprocess that ``celery_worker`` starts once per session.
"""

import os
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import ApiKey
from config.celery import app as celery_app
from tests.accounts.personas import make_world
from tests.parts import (
    REGISTRY,
    docker_status,
    postgres_status,
    redis_status,
    registry_status,
    require_part,
)
from tests.worker import Worker, database_url, nginx_env, stop_supervisors

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/13"
DEPLOY_HEALTH_TIMEOUT = 8


def _test_queue():
    """scripts/test.sh names a queue per run; a bare pytest run makes one."""
    queue = os.environ.get("CELERY_QUEUE", "")
    if queue.startswith("mech-test-"):
        return queue
    return f"mech-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _broker_url():
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis://") else DEFAULT_BROKER_URL


# Settings are loaded before this module, so the queue and broker are set on
# the loaded settings and the Celery app, before anything sends a task.
QUEUE = _test_queue()
BROKER_URL = _broker_url()
settings.CELERY_TASK_DEFAULT_QUEUE = QUEUE
settings.CELERY_BROKER_URL = BROKER_URL
celery_app.conf.task_default_queue = QUEUE
celery_app.conf.broker_url = BROKER_URL


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Every database test runs on PostgreSQL, never the SQLite default."""
    require_part("PostgreSQL", *postgres_status())


@pytest.fixture
def api_key(admin_user):
    """A raw API key of the superuser ``admin``."""
    _, raw_key = ApiKey.issue(admin_user, "tests")
    return raw_key


@pytest.fixture
def api(api_key):
    """An API client authenticated as ``admin`` with an API key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def redis_broker():
    require_part("Redis", *redis_status(BROKER_URL))
    return BROKER_URL


@pytest.fixture(scope="session")
def docker_client():
    require_part("Docker", *docker_status())
    import docker

    return docker.DockerClient(base_url=settings.MECH["DOCKER_HOST"], timeout=60)


@pytest.fixture(scope="session")
def local_registry():
    require_part("registry", *registry_status())
    return REGISTRY


def _worker_env(state_dir, nginx):
    env = {
        **os.environ,
        **nginx,
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_QUEUE": QUEUE,
        "MECH_STATE_DIR": str(state_dir),
        "MECH_DEPLOY_HEALTH_TIMEOUT": str(DEPLOY_HEALTH_TIMEOUT),
        "MECH_HEALTH_CHECK_TIMEOUT": "2",
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "LOG_JSON": "false",
    }
    if settings.MECH["DOCKER_HOST"]:
        env["DOCKER_HOST"] = settings.MECH["DOCKER_HOST"]
    return env


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, tmp_path_factory):
    """A real worker on this run's queue, writing to the test database."""
    require_part("Redis", *redis_status(BROKER_URL))
    require_part("PostgreSQL", *postgres_status())
    state_dir = tmp_path_factory.mktemp("worker-state")
    # Services that enable nginx and name a domain go through this nginx.
    nginx = nginx_env(state_dir / "nginx")
    env = _worker_env(state_dir, nginx)
    worker = Worker(celery_app, QUEUE, env, state_dir / "worker.log")
    worker.process_dir = state_dir / "processes"
    worker.nginx = nginx
    worker.start()
    yield worker
    worker.stop()
    stop_supervisors(worker.process_dir)
    _stop_nginx(nginx)
    _forget_queue()


def _stop_nginx(nginx):
    if not nginx:
        return
    from deployments.traffic.nginx import NginxRouter

    NginxRouter(
        directory=nginx["MECH_NGINX_DIR"], listen=nginx["MECH_NGINX_LISTEN"]
    ).stop()


def _forget_queue():
    import redis

    client = redis.Redis.from_url(BROKER_URL)
    client.delete(QUEUE, f"_kombu.binding.{QUEUE}")


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle and lockout counters live in the cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _quick_passwords(settings):
    # Hashing strength is not what these tests are about.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db):
    """Four people, one per role, in team alpha, which owns alpha-api only."""
    return make_world()

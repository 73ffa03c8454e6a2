import pytest
from django.core.cache import cache

from tests.accounts.personas import make_world


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle and lockout counters live in the cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db):
    return make_world()


@pytest.fixture(autouse=True)
def _quick_passwords(settings):
    # Hashing strength is not what these tests are about.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

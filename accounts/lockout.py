"""Slows down guessing: failed logins and failed API keys are counted.

Failures are counted in the cache per client address (and, for logins, per
username) over a window; past the limit, further attempts answer 429 with
``Retry-After`` until the window ends, even with a correct secret.
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled


def _limits():
    return settings.MECH["FAILED_AUTH_LIMIT"], settings.MECH["FAILED_AUTH_WINDOW"]


def _cache_key(kind, ident):
    return f"mech:failed-auth:{kind}:{ident}"


def record_failure(kind, ident):
    """Count one failure; the window starts at the first failure."""
    _, window = _limits()
    key = _cache_key(kind, ident)
    now = time.time()
    if cache.add(key, (1, now), timeout=window):
        return
    count, started = cache.get(key, (0, now))
    remaining = max(1, int(started + window - now))
    cache.set(key, (count + 1, started), timeout=remaining)


def check_not_blocked(kind, ident):
    """Raise ``Throttled`` while ``ident`` is over the failure limit."""
    limit, window = _limits()
    count, started = cache.get(_cache_key(kind, ident), (0, 0))
    if count >= limit:
        wait = max(1, int(started + window - time.time()))
        raise Throttled(wait=wait, detail="Too many failed attempts.")


def client_address(request):
    # Known limitation: behind a proxy this is the proxy's address; the
    # registry does not yet trust X-Forwarded-For from configured proxies.
    return request.META.get("REMOTE_ADDR", "")

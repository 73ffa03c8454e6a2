"""Slows down guessing: failed logins, API keys and hook tokens are counted.

Failures are counted in the cache over a window that starts at the first
failure. Past the limit, further attempts answer 429 with ``Retry-After``
until the window ends. Which attempts are refused depends on the secret:

- API keys and deploy hook tokens are counted per client address, and only
  failed attempts are refused: a valid key or token is always accepted, so
  one guesser cannot lock out everyone behind the same NAT or proxy. The
  answer past the limit still tells a valid key from an invalid one; what
  makes guessing hopeless is that keys and tokens carry 256 random bits.
- Passwords are counted per username and per client address. A username
  past the limit refuses every attempt, the right password too, from any
  address: otherwise the answer would tell a guesser when a guess was
  right. An address past the limit refuses only wrong passwords, so people
  sharing it can still sign in to their own accounts.

Known limitation: anyone can lock a username out for a window by failing to
sign in as it as often as the limit allows; that is the price of the per-username limit.
Known limitation: a guesser spreading wrong passwords over many usernames
from one address still learns when a guess is right, up to the per-username
limit for each name and the login rate limit of its address.
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


def failed_attempt(kind, ident, error):
    """Count a failed attempt by ``ident``; return the exception to raise.

    That is ``error`` until ``ident`` is past the limit, then ``Throttled``
    so the caller is told how long to wait. Call this only once the
    credential has proved wrong.
    """
    try:
        check_not_blocked(kind, ident)
    except Throttled as throttled:
        return throttled
    record_failure(kind, ident)
    return error


def client_address(request):
    # Known limitation: behind a proxy this is the proxy's address; the
    # registry does not yet trust X-Forwarded-For from configured proxies.
    return request.META.get("REMOTE_ADDR", "")

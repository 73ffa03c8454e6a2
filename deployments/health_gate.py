"""HTTP probes of a running instance, shared by the deploy gate and checks.

Probes go only to the address a backend reported, which is on loopback, and
ignore proxy settings from the environment so they never leave the machine.
"""

import time
from dataclasses import dataclass

import requests

GATE_POLL_SECONDS = 0.05
GATE_FIRST_POLL_SECONDS = 0.002


@dataclass(frozen=True)
class Probe:
    ok: bool
    status_code: int | None
    latency_ms: float | None
    error: str


def _session():
    session = requests.Session()
    session.trust_env = False
    return session


def probe(address, path, timeout):
    """One GET of ``http://address/path``; 2xx counts as healthy."""
    url = f"http://{address}{path}"
    started = time.perf_counter()
    try:
        with _session() as session:
            response = session.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return Probe(False, None, None, _short_reason(exc))
    latency = (time.perf_counter() - started) * 1000
    ok = 200 <= response.status_code < 300
    error = "" if ok else f"answered {response.status_code}"
    return Probe(ok, response.status_code, round(latency, 2), error)


def _short_reason(exc):
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or reset"
    return exc.__class__.__name__


def wait_until_healthy(address, path, timeout, still_running=None):
    """Poll until a 2xx answer or ``timeout`` seconds; return the last probe.

    Polls quickly at first, since most releases answer within milliseconds
    of starting, then every ``GATE_POLL_SECONDS``. ``still_running()`` is
    asked at most that often, so a crashed instance fails the gate at once
    instead of at the deadline.
    """
    deadline = time.monotonic() + timeout
    next_liveness_check = time.monotonic() + GATE_POLL_SECONDS
    interval = GATE_FIRST_POLL_SECONDS
    last = Probe(False, None, None, "not checked")
    while True:
        remaining = deadline - time.monotonic()
        last = probe(address, path, timeout=max(0.2, min(2.0, remaining)))
        if last.ok or remaining <= 0:
            return last
        if still_running is not None and time.monotonic() >= next_liveness_check:
            if not still_running():
                return Probe(False, last.status_code, None, "the instance exited")
            next_liveness_check = time.monotonic() + GATE_POLL_SECONDS
        time.sleep(interval)
        interval = min(interval * 2, GATE_POLL_SECONDS)

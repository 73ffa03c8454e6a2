"""The deploy gate's polling, on a clock the test drives.

Probes come quickly at first and then every ``GATE_POLL_SECONDS``; whether
the instance still runs is asked at most that often.
"""

from itertools import pairwise

import pytest

from deployments import health_gate
from deployments.health_gate import GATE_POLL_SECONDS, Probe, wait_until_healthy

REFUSED = Probe(False, None, None, "connection refused or reset")
HEALTHY = Probe(True, 200, 1.0, "")


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(health_gate.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(health_gate.time, "sleep", clock.sleep)
    return clock


def probes(monkeypatch, answers):
    asked = []

    def probe(address, path, timeout):
        asked.append((address, path))
        return answers.pop(0) if answers else REFUSED

    monkeypatch.setattr(health_gate, "probe", probe)
    return asked


def test_polls_quickly_first_then_every_poll_interval(clock, monkeypatch):
    asked = probes(monkeypatch, [REFUSED] * 7 + [HEALTHY])

    result = wait_until_healthy("127.0.0.1:9", "/health", timeout=5)

    assert result == HEALTHY
    assert len(asked) == 8
    assert clock.sleeps == [0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05]


def test_liveness_is_asked_at_most_once_per_poll_interval(clock, monkeypatch):
    probes(monkeypatch, [])
    asked_at = []

    def still_running():
        asked_at.append(clock.now)
        return len(asked_at) < 4

    result = wait_until_healthy("127.0.0.1:9", "/health", 5, still_running)

    assert result.error == "the instance exited"
    assert len(asked_at) == 4
    gaps = [later - earlier for earlier, later in pairwise(asked_at)]
    assert all(gap >= GATE_POLL_SECONDS - 1e-9 for gap in gaps), gaps
    assert asked_at[0] >= GATE_POLL_SECONDS


def test_gives_up_at_the_deadline_with_the_last_answer(clock, monkeypatch):
    asked = probes(monkeypatch, [])

    result = wait_until_healthy("127.0.0.1:9", "/health", timeout=1)

    assert result == REFUSED
    assert clock.now == pytest.approx(1.0, abs=GATE_POLL_SECONDS)
    assert len(asked) == len(clock.sleeps) + 1

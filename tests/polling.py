"""Bounded waiting for things another process does."""

import time


def wait_for(fetch, done, timeout, interval=0.2, what="the condition"):
    """Call ``fetch()`` until ``done(value)`` holds; return the last value.

    Fails the test with the last value seen when ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout}s; last: {value}")
        time.sleep(interval)

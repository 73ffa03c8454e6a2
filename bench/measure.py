"""Timed steps: a bare ``docker run``, and deployments through the real API.

Every time is measured by this process from the moment it sends the command
to the moment it sees the answer it waits for, polling the service at a
fine interval (``Timing.probe_interval``). Where the registry records a
moment itself (``finishedAt``, log lines), that moment is read back from the
API; the web server, the worker and this process share the machine's clock.
"""

import http.client
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import requests

FINISHED = ("succeeded", "failed")
DEPLOY_TIMEOUT = 90
STOP_WAIT_TIMEOUT = 60
PROBE_TIMEOUT = 1.0
# How often the API is read while a deployment is followed by probing alone.
QUIET_API_INTERVAL = 1.0


class BenchError(Exception):
    """A step did not end as it should; the message says what happened."""


@dataclass(frozen=True)
class Timing:
    probe_interval: float = 0.005
    api_interval: float = 0.05


def epoch(text):
    """Seconds since the epoch for an ISO 8601 time from the API."""
    return datetime.fromisoformat(text).timestamp()


def probe(address, path, hostname=""):
    """``(status, body)`` of one GET on loopback, or ``(None, "")``."""
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=PROBE_TIMEOUT)
    try:
        headers = {"Host": hostname} if hostname else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    except (OSError, http.client.HTTPException):
        # Refused, reset or cut short: a release stopping mid-answer.
        return None, ""
    finally:
        connection.close()


def serves(address, path, version="", hostname=""):
    status, body = probe(address, path, hostname)
    return status is not None and 200 <= status < 300 and version in body


def wait_serving(address, path, interval, timeout, version="", hostname=""):
    """``perf_counter()`` at the first 2xx (naming ``version``) on ``address``."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if serves(address, path, version, hostname):
            return time.perf_counter()
        time.sleep(interval)
    raise BenchError(f"{address}{path} did not answer 2xx within {timeout}s")


class Api:
    """The registry's HTTP API, authenticated with an API key, proxies ignored."""

    def __init__(self, base_url, key):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {key}"

    def get(self, path):
        response = self.session.get(self.base_url + path, timeout=10)
        return self._body(response, path)

    def post(self, path, body):
        response = self.session.post(self.base_url + path, json=body, timeout=30)
        return self._body(response, path)

    def _body(self, response, path):
        if response.status_code >= 300:
            raise BenchError(
                f"{response.request.method} {path} answered "
                f"{response.status_code}: {response.text[:500]}"
            )
        return response.json()

    def deployment(self, deployment_id):
        return self.get(f"/api/deployments/{deployment_id}")

    def log(self, deployment_id):
        return self.get(f"/api/deployments/{deployment_id}/log")["lines"]


# docker run -------------------------------------------------------------


def docker_run_cli(env, image, port, path, variables, timing):
    """Seconds from starting ``docker run -d`` to the first 2xx on ``path``."""
    name = f"mech-bench-run-{uuid.uuid4().hex[:8]}"
    command = ["docker", "run", "-d", "--name", name, "--network", "host"]
    for key, value in {**variables, "PORT": str(port)}.items():
        command += ["-e", f"{key}={value}"]
    started = time.perf_counter()
    try:
        subprocess.run(
            [*command, image], env=env, check=True, capture_output=True, timeout=60
        )
        answered = wait_serving(
            f"127.0.0.1:{port}", path, timing.probe_interval, DEPLOY_TIMEOUT
        )
    finally:
        subprocess.run(
            ["docker", "rm", "-f", name], env=env, capture_output=True, timeout=60
        )
    return answered - started


def docker_run_sdk(client, image, port, path, variables, timing):
    """The same through the Docker SDK, as the registry's docker backend calls it."""
    container = None
    started = time.perf_counter()
    try:
        container = client.containers.run(
            image,
            name=f"mech-bench-run-{uuid.uuid4().hex[:8]}",
            detach=True,
            network_mode="host",
            environment={**variables, "PORT": str(port)},
        )
        answered = wait_serving(
            f"127.0.0.1:{port}", path, timing.probe_interval, DEPLOY_TIMEOUT
        )
    finally:
        if container is not None:
            container.remove(force=True)
    return answered - started


# Deployments --------------------------------------------------------------


@dataclass
class Followed:
    """What one deployment looked like from outside, times in seconds."""

    detail: dict
    sent_at: float
    answered: float | None = None
    served: float | None = None
    replaced: bool = False
    log: list = field(default_factory=list)

    @property
    def id(self):
        return self.detail["id"]

    @property
    def succeeded(self):
        """From sending the request to the worker recording success."""
        return epoch(self.detail["finishedAt"]) - self.sent_at


def request(api, path, body):
    """POST and return ``(response body, wall time sent, perf_counter sent)``."""
    sent_at, started = time.time(), time.perf_counter()
    return api.post(path, body), sent_at, started


def follow(api, sent, version, watch, timing, probe_only=False):
    """Wait until the deployment finishes and ``version`` answers on ``watch``.

    ``watch(detail)`` gives the ``(address, hostname)`` pairs to probe as the
    deployment goes on: the service's own address, or nginx with the
    service's hostname. The ``served`` time is the first 2xx naming
    ``version``. With ``probe_only`` (the address is known in advance), the
    API is read only once a second until then, so that the wait is measured
    as ``docker run``'s is: by probing alone, with no API request competing
    with the deployment for the machine.
    """
    body, sent_at, started = sent
    followed = Followed(detail=body, sent_at=sent_at)
    deadline = started + DEPLOY_TIMEOUT
    next_api = started + QUIET_API_INTERVAL if probe_only else 0.0
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        if followed.served is None and _any_serves(watch(followed.detail), version):
            followed.served = time.perf_counter() - started
            now = next_api = time.perf_counter()
        if now >= next_api:
            followed.detail = api.deployment(followed.id)
            quiet = probe_only and followed.served is None
            next_api = now + (QUIET_API_INTERVAL if quiet else timing.api_interval)
            if followed.detail["status"] == "failed":
                _fail(api, followed)
            if followed.detail["status"] in FINISHED and followed.answered is None:
                followed.answered = time.perf_counter() - started
        if followed.answered is not None and followed.served is not None:
            followed.log = api.log(followed.id)
            return followed
        time.sleep(timing.probe_interval)
    raise BenchError(
        f"deployment #{followed.id} did not finish and serve {version} "
        f"within {DEPLOY_TIMEOUT}s (status {followed.detail['status']})"
    )


def _any_serves(targets, version):
    return any(
        serves(address, path, version, hostname)
        for address, path, hostname in targets
        if address
    )


def _fail(api, followed):
    lines = "\n".join(f"  {line['message']}" for line in api.log(followed.id))
    raise BenchError(
        f"deployment #{followed.id} failed: {followed.detail['error']}\n{lines}"
    )


def wait_stopped(api, deployment_id, timing):
    """Wait until the worker has stopped the release a deployment replaced."""
    deadline = time.perf_counter() + STOP_WAIT_TIMEOUT
    while time.perf_counter() < deadline:
        detail = api.deployment(deployment_id)
        if detail["stoppedAt"] is not None:
            return detail
        time.sleep(timing.api_interval)
    raise BenchError(f"deployment #{deployment_id} was not stopped in time")


def wait_log_line(api, deployment_id, prefix, timing):
    """The deployment's log once a line starting with ``prefix`` is in it."""
    deadline = time.perf_counter() + STOP_WAIT_TIMEOUT
    while time.perf_counter() < deadline:
        lines = api.log(deployment_id)
        if any(line["message"].startswith(prefix) for line in lines):
            return lines
        time.sleep(timing.api_interval)
    raise BenchError(f"deployment #{deployment_id} never logged {prefix!r}")

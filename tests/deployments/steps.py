"""Steps of end-to-end deployment tests, through the public API where they can."""

import threading
import time

import docker
import requests

from tests.polling import wait_for

DEPLOY_TIMEOUT = 90
FINISHED = ("succeeded", "failed")
REQUEST_TIMEOUT = 5


def set_variables(api, slug, environment, values, secret=True):
    response = api.put(
        f"/api/services/{slug}/variables/{environment}",
        [
            {"key": key, "value": value, "secret": secret}
            for key, value in values.items()
        ],
        format="json",
    )
    assert response.status_code == 200, response.content


def ask_to_deploy(api, slug, environment, version, idempotency_key=None, **options):
    """``POST /api/deployments``; ``options`` are further body keys."""
    body = {"serviceId": slug, "environment": environment, "version": version}
    extra = {}
    if idempotency_key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    return api.post("/api/deployments", {**body, **options}, format="json", **extra)


def wait_until_finished(api, worker, url, what="the deployment"):
    try:
        return wait_for(
            lambda: api.get(url).json(),
            lambda body: body["status"] in FINISHED,
            DEPLOY_TIMEOUT,
            what=what,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker log:\n{worker.log_tail()}") from None


def accepted(response):
    """The url of the deployment a 202 answer names."""
    assert response.status_code == 202, response.content
    url = response["Location"]
    assert url == response.json()["url"]
    return url


def deploy(api, worker, slug, environment, version, **options):
    """Ask for a deployment and wait for the worker to finish it."""
    url = accepted(ask_to_deploy(api, slug, environment, version, **options))
    return wait_until_finished(api, worker, url, f"deployment of {slug} {version}")


def log_messages(deployment):
    return [line["message"] for line in deployment["log"]]


def fetch(address, path):
    """GET ``http://address/path`` on loopback; returns (status, text)."""
    session = requests.Session()
    session.trust_env = False
    response = session.get(f"http://{address}{path}", timeout=5)
    return response.status_code, response.text


def refuses_connections(address):
    try:
        fetch(address, "/")
    except requests.ConnectionError:
        return True
    return False


def wait_until_stopped(api, deployment):
    """The previous version is stopped just after the new one succeeds."""
    return wait_for(
        lambda: api.get(f"/api/deployments/{deployment['id']}").json(),
        lambda body: body["stoppedAt"] is not None,
        30,
        what=f"deployment #{deployment['id']} to be stopped",
    )


def containers_of(docker_client, slug):
    """Names of the containers deployments of ``slug`` started, sorted.

    One listing call with no inspection afterwards: containers of other
    tests may disappear meanwhile.
    """
    prefix = f"mech-{slug}-"
    listed = docker_client.api.containers(all=True, filters={"name": prefix})
    names = (name.lstrip("/") for entry in listed for name in entry["Names"])
    return sorted(name for name in names if name.startswith(prefix))


def remove_containers(docker_client, slug):
    """Remove every container a test's deployments of ``slug`` left."""
    for name in containers_of(docker_client, slug):
        remove_container(docker_client, name)


def remove_container(docker_client, name):
    """Remove one container; the worker may be removing it at the same moment."""
    try:
        docker_client.api.remove_container(name, force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # "removal ... is already in progress"
            raise


class Requester:
    """A client thread sending GETs through nginx until stopped.

    Every answer is recorded as ``(sent, status, text)``, ``sent`` being the
    ``time.time()`` the request was sent at; a request
    that got no answer is recorded with status None. The thread stops by
    itself after ``max_seconds`` or ``max_requests``.

    Each request opens its own connection. On a reload nginx closes the idle
    keep-alive connections of its old workers, and a request sent on one at
    that instant is dropped unanswered; clients retry those, but here it
    would hide whether nginx itself answered every request it accepted.
    """

    def __init__(self, listen, hostname, path, max_seconds=60, max_requests=20000):
        self.url = f"http://{listen}{path}"
        self.hostname = hostname
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.answers = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        self._stop.set()
        self._thread.join(REQUEST_TIMEOUT * 2)

    def _run(self):
        deadline = time.monotonic() + self.max_seconds
        with requests.Session() as session:
            session.trust_env = False
            while not self._stop.is_set() and time.monotonic() < deadline:
                if len(self.answers) >= self.max_requests:
                    return
                self.answers.append(self._get(session))

    def _get(self, session):
        sent = time.time()
        try:
            response = session.get(
                self.url,
                headers={"Host": self.hostname, "Connection": "close"},
                timeout=REQUEST_TIMEOUT,
            )
        except requests.RequestException as exc:
            return (sent, None, repr(exc))
        return (sent, response.status_code, response.text)

    def failures(self):
        return [answer for answer in self.answers if answer[1] != 200]

    def texts_between(self, start, end):
        """Answers to requests sent from ``start`` to ``end`` (epoch seconds)."""
        return [text for sent, _, text in self.answers if start <= sent <= end]


def unsent_deployment(service, environment, version="1.0.0", **fields):
    """A recreate row made directly: no worker is asked to run it.

    For tests that run it themselves, or that play a worker that died.
    """
    from deployments.models import Deployment

    return Deployment.objects.create(
        service=service,
        environment=environment,
        version=version,
        strategy="recreate",
        trigger="api",
        **fields,
    )

"""Steps of end-to-end deployment tests, all through the public API."""

import requests

from tests.polling import wait_for

DEPLOY_TIMEOUT = 90
FINISHED = ("succeeded", "failed")


def set_variables(api, slug, environment, values):
    response = api.put(
        f"/api/services/{slug}/variables/{environment}",
        [{"key": key, "value": value} for key, value in values.items()],
        format="json",
    )
    assert response.status_code == 200, response.content


def deploy(api, worker, slug, environment, version):
    """Ask for a deployment and wait for the worker to finish it."""
    response = api.post(
        "/api/deployments",
        {"serviceId": slug, "environment": environment, "version": version},
        format="json",
    )
    assert response.status_code == 202, response.content
    url = response["Location"]
    assert url == response.json()["url"]
    try:
        return wait_for(
            lambda: api.get(url).json(),
            lambda body: body["status"] in FINISHED,
            DEPLOY_TIMEOUT,
            what=f"deployment of {slug} {version}",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker log:\n{worker.log_tail()}") from None


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

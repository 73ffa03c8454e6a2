"""The example services behave as the README says, version by version."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REQUIRED = {
    "mech-search": "SEARCH_INDEX",
    "mech-llm-gateway": "UPSTREAM_API_KEY",
    "mech-reader": "READER_LIBRARY",
}
START_TIMEOUT = 10
# Loopback only: proxy settings from the environment are ignored.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(slug, version, with_config=True):
    port = free_port()
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "MECH_VERSION": version}
    if with_config:
        env[REQUIRED[slug]] = "demo"
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=EXAMPLES / slug,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, port


def get(port, path):
    """GET on loopback, retried until the server listens; (status, json)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with OPENER.open(f"http://127.0.0.1:{port}{path}") as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def running():
    processes = []

    def run(slug, version):
        process, port = start(slug, version)
        processes.append(process)
        return port

    yield run
    for process in processes:
        process.terminate()
        process.wait(timeout=5)


@pytest.mark.parametrize("slug", sorted(REQUIRED))
@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_good_versions_are_healthy_and_name_their_version(running, slug, version):
    port = running(slug, version)

    status, body = get(port, "/health")

    assert (status, body) == (200, {"status": "ok", "version": version})


@pytest.mark.parametrize("slug", sorted(REQUIRED))
def test_version_1_2_0_fails_its_health_check(running, slug):
    port = running(slug, "1.2.0")

    status, body = get(port, "/health")

    assert (status, body) == (503, {"status": "broken", "version": "1.2.0"})


@pytest.mark.parametrize("slug", sorted(REQUIRED))
def test_unknown_version_exits_with_an_error(slug):
    process, _ = start(slug, "9.9.9")

    _, err = process.communicate(timeout=START_TIMEOUT)

    assert process.returncode != 0
    assert f"{slug} has no release 9.9.9" in err


@pytest.mark.parametrize("slug", sorted(REQUIRED))
def test_missing_required_variable_stops_the_service(slug):
    process, _ = start(slug, "1.0.0", with_config=False)

    _, err = process.communicate(timeout=START_TIMEOUT)

    assert process.returncode != 0
    assert f"{REQUIRED[slug]} is not set" in err


def test_search_answers_with_the_deployed_version(running):
    port = running("mech-search", "1.1.0")

    status, body = get(port, "/api/search?q=health")

    assert status == 200
    assert body["version"] == "1.1.0"
    assert [hit["id"] for hit in body["hits"]] == [2]


def test_gateway_completion_is_deterministic(running):
    port = running("mech-llm-gateway", "1.1.0")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/completions",
        data=json.dumps({"prompt": "one two three", "maxTokens": 2}).encode(),
        headers={"Content-Type": "application/json"},
    )
    get(port, "/health")

    answers = [json.loads(OPENER.open(request).read()) for _ in range(2)]

    assert answers[0] == answers[1]
    assert answers[0] == {
        "version": "1.1.0",
        "model": "echo-small",
        "completion": "three two",
        "usage": {"promptTokens": 3, "completionTokens": 2},
    }


def test_reader_returns_a_document_with_its_metadata(running):
    port = running("mech-reader", "1.0.0")

    status, body = get(port, "/api/documents/2")

    assert status == 200
    assert body["version"] == "1.0.0"
    assert body["title"] == "Glossary"
    assert body["library"] == "demo"
    assert body["text"].startswith("A release is a version")

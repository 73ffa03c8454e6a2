"""Deploying on the process backend through the real Celery worker."""

import sys
import uuid

import pytest

from deployments.models import Deployment
from tests.catalog import add_service
from tests.deployments.steps import (
    deploy,
    fetch,
    log_messages,
    refuses_connections,
    set_variables,
    wait_until_stopped,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

APP = '''\
"""A tiny HTTP service; release 1.2.0 is broken: its health check fails."""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = sys.argv[1]
if VERSION == "1.3.0":
    print("1.3.0 cannot start: missing its data file", flush=True)
    sys.exit(3)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        routes = {
            "/health": (503, "broken") if VERSION == "1.2.0" else (200, "ok"),
            "/version": (200, VERSION),
            "/greeting": (200, os.environ.get("GREETING", "")),
        }
        status, text = routes.get(self.path, (404, "not found"))
        body = (text + "\\n").encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


print("starting", VERSION, flush=True)
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


@pytest.fixture
def tiny_service(tmp_path, environment_for, api, running_instances):
    (tmp_path / "app.py").write_text(APP)
    slug = f"tiny-{uuid.uuid4().hex[:8]}"
    service = add_service(
        {
            "id": slug,
            "name": "Tiny",
            "configuration": {
                "port": 3999,
                "healthCheck": "/health",
                "environment": {"required": ["GREETING"]},
            },
            "process": {
                "command": f"{sys.executable} app.py {{version}}",
                "directory": str(tmp_path),
            },
        }
    )
    environment = environment_for("process")
    set_variables(api, slug, environment.name, {"GREETING": "hello from a process"})
    return service, environment.name


def test_first_release_starts_as_a_process_and_answers(
    api, celery_worker, tiny_service
):
    service, environment = tiny_service

    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")

    assert first["status"] == "succeeded", log_messages(first)
    assert first["backend"] == "process"
    assert first["isCurrent"] is True
    assert first["requestedBy"] == "admin"
    assert fetch(first["address"], "/version") == (200, "1.0.0\n")
    assert fetch(first["address"], "/greeting") == (200, "hello from a process\n")


def test_new_release_replaces_the_old_and_a_broken_one_leaves_it_serving(
    api, celery_worker, tiny_service
):
    service, environment = tiny_service
    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")
    assert first["status"] == "succeeded", log_messages(first)

    second = deploy(api, celery_worker, service.slug, environment, "1.1.0")

    assert second["status"] == "succeeded", log_messages(second)
    assert fetch(second["address"], "/version") == (200, "1.1.0\n")
    first_now = wait_until_stopped(api, first)
    assert first_now["isCurrent"] is False
    assert refuses_connections(first["address"])

    third = deploy(api, celery_worker, service.slug, environment, "1.2.0")

    assert third["status"] == "failed"
    assert third["error"] == "health check /health failed: answered 503"
    messages = log_messages(third)
    assert f"1.1.0 (deployment #{second['id']}) is still serving" in messages
    (output,) = [m for m in messages if m.startswith("last output of the new")]
    assert '"GET /health HTTP/1.1" 503' in output
    assert refuses_connections(third["address"])
    assert fetch(second["address"], "/version") == (200, "1.1.0\n")
    assert Deployment.objects.get(pk=second["id"]).is_current is True


def test_a_release_that_crashes_on_start_fails_without_waiting_out_the_gate(
    api, celery_worker, tiny_service
):
    service, environment = tiny_service

    crashed = deploy(api, celery_worker, service.slug, environment, "1.3.0")

    assert crashed["status"] == "failed"
    assert crashed["error"] == "health check /health failed: the instance exited"
    output = "\n".join(log_messages(crashed))
    assert "1.3.0 cannot start: missing its data file" in output
    assert "[supervisor] exited with status 3" in output

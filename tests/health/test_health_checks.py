"""Health checks run by the beat task through the broker, and their API."""

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from config.celery import app as celery_app
from deployments.backends.base import pick_port
from deployments.models import Deployment, Environment
from health.models import CheckResult
from tests.catalog import add_service
from tests.polling import wait_for


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self):
        status = 200 if self.path == "/health" else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def healthy_server():
    """A service stand-in answering 200 on /health, on loopback."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def current_deployment(address, slug=None):
    slug = slug or f"svc-{uuid.uuid4().hex[:8]}"
    service = add_service({"id": slug, "name": slug, "configuration": {"port": 8000}})
    environment, _ = Environment.objects.get_or_create(
        name="checks", defaults={"backend": "process"}
    )
    return Deployment.objects.create(
        service=service,
        environment=environment,
        version="1.0.0",
        trigger="api",
        status="succeeded",
        backend="process",
        address=address,
        is_current=True,
    )


def test_beat_schedules_the_health_check_task():
    celery_app.loader.import_default_modules()
    celery_app.finalize()

    entry = celery_app.conf.beat_schedule["check every active deployment"]

    assert entry["task"] == "health.tasks.check_all_health_task"
    assert entry["schedule"] == settings.MECH["HEALTH_CHECK_INTERVAL"]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_check_task_through_the_broker_stores_up_and_down_results(
    celery_worker, healthy_server
):
    up = current_deployment(healthy_server)
    down = current_deployment(f"127.0.0.1:{pick_port()}")

    celery_app.send_task("health.tasks.check_all_health_task")
    results = wait_for(
        lambda: list(CheckResult.objects.order_by("deployment_id")),
        lambda found: {r.deployment_id for r in found} == {up.pk, down.pk},
        30,
        what="results for both deployments",
    )

    first = next(r for r in results if r.deployment_id == up.pk)
    second = next(r for r in results if r.deployment_id == down.pk)
    assert (first.status, first.status_code, first.error) == ("up", 200, "")
    assert first.latency_ms > 0
    assert first.service_id == up.service_id
    assert (second.status, second.status_code) == ("down", None)
    assert second.error == "connection refused or reset"


@pytest.mark.django_db
def test_health_api_reports_the_latest_result_per_environment(api):
    from django.utils import timezone

    deployment = current_deployment("127.0.0.1:9", slug="watched")
    common = {
        "deployment": deployment,
        "service": deployment.service,
        "environment": deployment.environment,
    }
    CheckResult.objects.create(
        **common,
        status="up",
        status_code=200,
        latency_ms=3.5,
        checked_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    latest = CheckResult.objects.create(
        **common,
        status="down",
        status_code=503,
        latency_ms=7.25,
        error="answered 503",
        checked_at=timezone.now(),
    )

    response = api.get("/api/health/watched")

    assert response.status_code == 200
    assert response.json() == {
        "serviceId": "watched",
        "environments": [
            {
                "environment": "checks",
                "deploymentId": deployment.pk,
                "version": "1.0.0",
                "address": "127.0.0.1:9",
                "status": "down",
                "statusCode": 503,
                "latencyMs": 7.25,
                "error": "answered 503",
                "checkedAt": latest.checked_at.isoformat().replace("+00:00", "Z"),
            }
        ],
    }

"""Blue-green and canary through a real nginx, with a client requesting.

The services enable nginx for ``<slug>.example.test``; outside production
nginx serves them as ``<environment>.<slug>.example.test`` on the worker's
own loopback listen address. A client thread requests through nginx while
the worker deploys and records every answer.
"""

from datetime import datetime

import pytest

from tests.deployments.e2e_fixtures import (  # noqa: F401 (fixtures)
    docker_environment_fixture,
    e2e_images_fixture,
    e2e_service_fixture,
    hostname,
    routed_fixture,
)
from tests.deployments.steps import (
    Requester,
    accepted,
    deploy,
    log_messages,
    wait_until_finished,
    wait_until_stopped,
)
from tests.polling import wait_for

pytestmark = [
    pytest.mark.docker,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

WARM_UP_REQUESTS = 20
CANARY_SAMPLE = 1000
MIN_CANARY_SAMPLE = 500


def wait_for_answers(client, count):
    wait_for(
        lambda: len(client.answers),
        lambda seen: seen >= count,
        20,
        what=f"{count} answers through nginx",
    )


def line_time(deployment, prefix):
    """When the first log line starting with ``prefix`` was written (epoch)."""
    for line in deployment["log"]:
        if line["message"].startswith(prefix):
            return datetime.fromisoformat(line["at"]).timestamp()
    raise AssertionError(f"no log line starts with {prefix!r}")


def traffic_lines(deployment):
    return [m for m in log_messages(deployment) if m.startswith("traffic: ")]


def test_blue_green_through_nginx_fails_no_request_and_ends_on_the_new_release(
    api, celery_worker, e2e_service, docker_environment, routed
):
    environment = docker_environment("staging", strategy="blue-green").name
    service = e2e_service(environment, nginx=True)
    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")
    assert first["status"] == "succeeded", log_messages(first)

    with Requester(routed, hostname(service, environment), "/version") as client:
        wait_for_answers(client, WARM_UP_REQUESTS)
        second = deploy(api, celery_worker, service.slug, environment, "1.1.0")
        wait_until_stopped(api, first)
        wait_for_answers(client, len(client.answers) + WARM_UP_REQUESTS)

    assert second["status"] == "succeeded", log_messages(second)
    assert traffic_lines(second) == [f"traffic: {second['address']} 100%"]
    assert client.failures() == []
    texts = [text for _, _, text in client.answers]
    assert set(texts) == {"1.0.0\n", "1.1.0\n"}
    assert texts[-WARM_UP_REQUESTS:] == ["1.1.0\n"] * WARM_UP_REQUESTS
    # The switch is logged once nginx's old workers are gone: every request
    # sent after it reaches the new release.
    after = client.texts_between(line_time(second, "traffic: "), float("inf"))
    assert len(after) >= WARM_UP_REQUESTS
    assert set(after) == {"1.1.0\n"}


@pytest.fixture
def canary_environment(docker_environment):
    return docker_environment(
        "e2e-canary",
        strategy="canary",
        canary_steps=[10, 50],
        canary_step_seconds=4.0,
        canary_max_error_rate=0.05,
    ).name


def test_canary_moves_traffic_in_steps_then_promotes_and_rollback_skips_steps(
    api, celery_worker, e2e_service, canary_environment, routed
):
    environment = canary_environment
    service = e2e_service(environment, nginx=True)
    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")
    assert first["status"] == "succeeded", log_messages(first)
    old = first["address"]

    with Requester(routed, hostname(service, environment), "/version") as client:
        second = deploy(api, celery_worker, service.slug, environment, "1.1.0")

    assert second["status"] == "succeeded", log_messages(second)
    assert second["strategy"] == "canary"
    new = second["address"]
    assert traffic_lines(second) == [
        f"traffic: {old} 90%, {new} 10%",
        f"traffic: {old} 50%, {new} 50%",
        f"traffic: {new} 100%",
    ]
    steps = [m for m in log_messages(second) if m.startswith("canary step: ")]
    assert len(steps) == 2
    assert all(m.endswith(f"0 errors (0.0%) on {new}") for m in steps), steps
    assert client.failures() == []
    # Every answer during the 10% step, in order, up to CANARY_SAMPLE.
    during_first_step = client.texts_between(
        line_time(second, f"traffic: {old} 90%"), line_time(second, "canary step: ")
    )[:CANARY_SAMPLE]
    assert len(during_first_step) >= MIN_CANARY_SAMPLE
    share = during_first_step.count("1.1.0\n") / len(during_first_step)
    assert 0.08 <= share <= 0.12, share

    response = api.post(f"/api/deployments/{second['id']}/rollback")

    back = wait_until_finished(api, celery_worker, accepted(response))
    assert back["status"] == "succeeded", log_messages(back)
    assert (back["kind"], back["strategy"]) == ("rollback", "blue-green")
    assert traffic_lines(back) == [f"traffic: {back['address']} 100%"]
    assert not any(m.startswith("canary step") for m in log_messages(back))


def test_canary_that_fails_real_requests_is_aborted_and_traffic_returns(
    api, celery_worker, e2e_service, canary_environment, routed
):
    environment = canary_environment
    service = e2e_service(environment, nginx=True)
    first = deploy(api, celery_worker, service.slug, environment, "1.0.0")
    assert first["status"] == "succeeded", log_messages(first)
    old = first["address"]

    with Requester(routed, hostname(service, environment), "/cgi-bin/work") as client:
        canary = deploy(api, celery_worker, service.slug, environment, "1.4.0")
        finished = len(client.answers)
        wait_for_answers(client, finished + WARM_UP_REQUESTS)

    assert canary["status"] == "failed"
    assert canary["error"] == ("canary error rate 100.0% is above the limit of 5.0%"), (
        log_messages(canary)
    )
    assert canary["rolledBackTo"] == "1.0.0"
    assert canary["canaryWeight"] is None
    new = canary["address"]
    assert traffic_lines(canary) == [
        f"traffic: {old} 90%, {new} 10%",
        f"traffic: {old} 100%",
    ]
    messages = log_messages(canary)
    assert f"1.0.0 (deployment #{first['id']}) is still serving" in messages
    assert "release 1.4.0 is marked bad" in messages
    failed = {text for _, status, text in client.failures()}
    assert failed == {"failed in 1.4.0\n"}
    assert client.answers[finished:] == [] or {
        (status, text) for _, status, text in client.answers[finished:]
    } == {(200, "1.0.0\n")}
    releases = api.get(f"/api/services/{service.slug}/releases").json()["results"]
    assert {r["version"]: r["isBad"] for r in releases} == {
        "1.0.0": False,
        "1.4.0": True,
    }
    assert api.get(first["url"]).json()["isCurrent"] is True

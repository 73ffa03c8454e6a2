"""Halting a container on the real engine, as recreate does before it starts.

``halt(port=...)`` returns once the old release has let go of its port and
leaves the rest of the engine's stop to a background thread; ``discard``
waits for that stop and removes the container.
"""

import socket
import time
import uuid

import pytest

from deployments.backends import docker as docker_backend
from deployments.backends.base import BackendError, LaunchSpec, pick_port, port_is_free
from deployments.backends.docker import DockerBackend
from tests.deployments.steps import fetch, remove_container
from tests.images import HEALTHY, IGNORES_TERM, publish
from tests.polling import wait_for

pytestmark = [pytest.mark.docker]

SIGTERM_EXIT = 128 + 15
SIGKILL_EXIT = 128 + 9


@pytest.fixture(scope="module")
def halt_images(docker_client, local_registry):
    repository = f"{local_registry}/tests/halt"
    publish(docker_client, repository, {"1.0.0": HEALTHY, "2.0.0": IGNORES_TERM})
    return repository


@pytest.fixture
def started(halt_images, docker_client):
    """Start a release on a free port: ``(handle, port, log lines)``."""
    names = []

    def start(version):
        port = pick_port()
        spec = LaunchSpec(
            deployment_id=1,
            service=f"halt-{uuid.uuid4().hex[:8]}",
            environment="test",
            version=version,
            preferred_port=port,
            image=f"{halt_images}:{version}",
            env={"GREETING": "hello"},
        )
        names.append(spec.name)
        lines = []
        backend = DockerBackend()
        instance = backend.launch(backend.prepare(spec, lines.append), lines.append)
        wait_for(
            lambda: _answers(instance.address),
            lambda status: status == 200,
            15,
            what=f"{version} to answer on {instance.address}",
        )
        return instance.handle, port, lines

    yield start
    for name in names:
        remove_container(docker_client, name)


def _answers(address):
    try:
        return fetch(address, "/health")[0]
    except OSError:
        return None


def _exited(docker_client, handle):
    return wait_for(
        lambda: docker_client.api.inspect_container(handle)["State"],
        lambda state: state["Status"] == "exited",
        15,
        what=f"container {handle[:12]} to exit",
    )


def _gone(docker_client, handle):
    return not any(c.id == handle for c in docker_client.containers.list(all=True))


def test_halt_returns_once_the_port_is_free_and_discard_ends_the_stop(
    started, docker_client
):
    handle, port, lines = started("1.0.0")
    backend = DockerBackend()

    backend.halt(handle, lines.append, port=port)

    assert port_is_free(port)
    state = _exited(docker_client, handle)
    assert state["ExitCode"] == SIGTERM_EXIT
    # Stopped as the engine's stop does: the restart policy does not bring it
    # back, as it would after a plain kill of a container that ends itself.
    time.sleep(0.5)
    details = docker_client.api.inspect_container(handle)
    assert details["State"]["Status"] == "exited"
    assert details["RestartCount"] == 0
    backend.discard(handle, lines.append)
    assert _gone(docker_client, handle)
    assert any(
        f"let go of port {port}" in line or line.startswith("stopped container")
        for line in lines
    ), lines


def test_a_release_ignoring_sigterm_is_killed_after_the_stop_timeout(
    started, docker_client, monkeypatch
):
    monkeypatch.setattr(docker_backend, "STOP_TIMEOUT_SECONDS", 1)
    handle, port, lines = started("2.0.0")
    backend = DockerBackend()

    backend.halt(handle, lines.append, port=port)

    assert port_is_free(port)
    assert _exited(docker_client, handle)["ExitCode"] == SIGKILL_EXIT
    backend.discard(handle, lines.append)
    assert _gone(docker_client, handle)


def test_halt_fails_clearly_when_another_process_keeps_the_port(started, docker_client):
    handle, _, lines = started("1.0.0")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        other_port = held.getsockname()[1]

        with pytest.raises(BackendError) as raised:
            DockerBackend().halt(handle, lines.append, port=other_port)

    assert str(raised.value) == (
        f"port {other_port} is still in use after container {handle[:12]} stopped"
    )
    assert _exited(docker_client, handle)["ExitCode"] == SIGTERM_EXIT

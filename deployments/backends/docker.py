"""Runs versions as containers on a Docker engine, with host networking.

Containers share the host's network, so each listens on loopback on the port
given in ``PORT``: the service's configured port when it is free, else a free
one, since the previous version keeps its port until the new one is healthy.

Known limitation: ports are chosen and releases probed on the worker's own
loopback, so the engine at ``DOCKER_HOST`` must be on the worker's machine.
Workers on several machines with an engine each are not supported yet.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import docker
from django.conf import settings
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from deployments.backends.base import (
    Backend,
    BackendError,
    Instance,
    Prepared,
    pick_port,
    wait_port_free,
)

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 5
# How much longer than the engine's own stop timeout a stop may take.
STOP_MARGIN_SECONDS = 10
LABEL = "io.mech-registry.deployment"

# One client per thread and engine: making one asks the engine for its API
# version, a round trip each deployment would otherwise pay.
_clients = threading.local()

# Stops begun by ``begin_halt(port=...)`` and not yet awaited, by container
# id. Per worker process: one deployment halts and later discards it.
_stopping = {}
_stop_executor = None
_stop_lock = threading.Lock()


def engine_client(base_url):
    cached = getattr(_clients, "by_url", None)
    if cached is None:
        cached = _clients.by_url = {}
    if base_url not in cached:
        try:
            cached[base_url] = docker.DockerClient(base_url=base_url, timeout=60)
        except DockerException as exc:
            raise BackendError(f"cannot reach the Docker engine: {exc}")
    return cached[base_url]


class DockerBackend(Backend):
    kind = "docker"

    def __init__(self):
        self.base_url = settings.MECH["DOCKER_HOST"]
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = engine_client(self.base_url)
        return self._client

    def ensure_image(self, image, log):
        """Use the local copy of ``image`` or pull it; fail clearly if neither."""
        try:
            found = self.client.images.get(image)
            log(f"image {image} is present ({found.id[:19]})")
            return found
        except ImageNotFound:
            pass
        except APIError as exc:
            raise BackendError(f"cannot inspect image {image}: {exc.explanation}")
        log(f"pulling {image}")
        try:
            return self.client.images.pull(image)
        except (APIError, ImageNotFound) as exc:
            raise BackendError(f"image {image} is not available: {exc.explanation}")

    def image_available(self, image):
        """True when the engine has the image or its registry still serves it.

        Asks the registry through the engine, which makes one network call.
        """
        try:
            self.client.images.get(image)
            return True
        except ImageNotFound:
            pass
        try:
            self.client.images.get_registry_data(image)
            return True
        except (APIError, NotFound):
            return False

    def prepare(self, spec, log, port=None, before_create=None):
        """Pull if needed and create the container, without starting it."""
        if not spec.image:
            raise BackendError("the service has no docker image in its definition")
        image = self.ensure_image(spec.image, log)
        if before_create is not None:
            before_create()
        port = port or pick_port(spec.preferred_port)
        api = self.client.api
        host_config = api.create_host_config(
            network_mode="host",
            # A small init as PID 1 passes SIGTERM on: a server running as
            # PID 1 without a handler ignores it, so every stop would wait
            # out STOP_TIMEOUT_SECONDS.
            init=True,
            restart_policy={"Name": "unless-stopped"},
        )
        log(f"creating container {spec.name} from {spec.image} for port {port}")
        try:
            created = api.create_container(
                spec.image,
                name=spec.name,
                environment={**spec.env, "PORT": str(port)},
                labels={LABEL: str(spec.deployment_id)},
                host_config=host_config,
            )
        except APIError as exc:
            raise BackendError(f"cannot create container: {exc.explanation}")
        digest = _repo_digest(image, spec.image)
        return Prepared(spec, port, handle=created["Id"], digest=digest)

    def launch(self, prepared, log):
        log(f"starting container {prepared.spec.name}")
        try:
            self.client.api.start(prepared.handle)
        except APIError as exc:
            raise BackendError(f"cannot start container: {exc.explanation}")
        return Instance(prepared.handle, prepared.address, prepared.digest)

    def _container(self, handle):
        try:
            return self.client.containers.get(handle)
        except NotFound:
            return None

    def stop(self, handle, log):
        self.halt(handle, log)
        self.discard(handle, log)

    def begin_halt(self, handle, log, port=None):
        """Ask the engine to stop the container; with ``port``, in the background.

        Without ``port`` the container is stopped before this returns. With
        it, the returned function waits only until the container no longer
        listens on ``port``: the engine tears a container down for tens of
        milliseconds after its process has exited, which recreate need not
        wait for before it starts the new release on that port. ``discard``
        waits for the whole stop.
        """
        if port is None:
            _halt(self.client, handle)
            log(f"stopped container {handle[:12]}")
            return lambda: None
        stopping = _stopper().submit(_halt_in_background, self.base_url, handle)
        _stopping[handle] = stopping
        return partial(self._wait_port_released, handle, stopping, port, log)

    def _wait_port_released(self, handle, stopping, port, log):
        timeout = STOP_TIMEOUT_SECONDS + STOP_MARGIN_SECONDS
        if not wait_port_free(port, stopping.done, timeout):
            if not stopping.done():
                raise BackendError(
                    f"container {handle[:12]} still holds port {port} after {timeout} s"
                )
            _stopping.pop(handle, None)
            stopping.result()
            raise BackendError(
                f"port {port} is still in use after container {handle[:12]} stopped"
            )
        if stopping.done():
            _stopping.pop(handle, None)
            stopping.result()
            log(f"stopped container {handle[:12]}")
        else:
            log(
                f"container {handle[:12]} let go of port {port}; "
                "it finishes stopping in the background"
            )

    def discard(self, handle, log):
        stopping = _stopping.pop(handle, None)
        if stopping is not None:
            try:
                stopping.result(timeout=STOP_TIMEOUT_SECONDS + STOP_MARGIN_SECONDS)
            except (BackendError, TimeoutError) as exc:
                log(f"stopping container {handle[:12]} did not finish cleanly: {exc}")
        try:
            self.client.api.remove_container(handle, force=True)
        except NotFound:
            return
        except APIError as exc:
            if exc.status_code == 409:
                # Someone else is already removing it: the outcome we want.
                return
            raise BackendError(
                f"cannot remove container {handle[:12]}: {exc.explanation}"
            )

    def is_running(self, handle):
        container = self._container(handle)
        return container is not None and container.status in ("created", "running")

    def instances_of(self, deployment_id):
        try:
            found = self.client.api.containers(
                all=True, filters={"label": f"{LABEL}={deployment_id}"}
            )
        except APIError as exc:
            raise BackendError(f"cannot list containers: {exc.explanation}")
        return [container["Id"] for container in found]

    def stopped_instances(self):
        try:
            found = self.client.api.containers(
                all=True, filters={"label": LABEL, "status": ["exited", "created"]}
            )
        except APIError as exc:
            raise BackendError(f"cannot list containers: {exc.explanation}")
        return [
            (
                container["Id"],
                container["Names"][0].lstrip("/"),
                int(container["Labels"][LABEL]),
            )
            for container in found
            if container["Labels"].get(LABEL, "").isdigit() and container["Names"]
        ]

    def output_tail(self, handle, lines=20):
        container = self._container(handle)
        if container is None:
            return ""
        return container.logs(tail=lines).decode(errors="replace")


def _halt(client, handle):
    """Ask the engine to stop ``handle``; a missing container is already stopped."""
    try:
        client.api.stop(handle, timeout=STOP_TIMEOUT_SECONDS)
    except NotFound:
        return
    except APIError as exc:
        raise BackendError(f"cannot stop container {handle[:12]}: {exc.explanation}")


def _halt_in_background(base_url, handle):
    # Each stopper thread has its own client (engine_client is per thread).
    _halt(engine_client(base_url), handle)


def _stopper():
    """The worker process's threads for stops that finish in the background.

    Made on first use, so each forked worker process gets its own.
    """
    global _stop_executor
    with _stop_lock:
        if _stop_executor is None:
            _stop_executor = ThreadPoolExecutor(
                max_workers=2, thread_name_prefix="mech-docker-stop"
            )
    return _stop_executor


def _repo_digest(image, reference):
    """The registry digest of ``image`` for the repository ``reference`` names."""
    if "@" in reference:
        return reference.split("@", 1)[1]
    for repo_digest in image.attrs.get("RepoDigests") or []:
        repository, _, digest = repo_digest.partition("@")
        if reference.startswith(repository + ":") or reference == repository:
            return digest
    return ""

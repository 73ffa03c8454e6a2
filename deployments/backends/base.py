import secrets
import socket
import time
from dataclasses import dataclass, field


class BackendError(Exception):
    """Starting or stopping failed; the message is safe to show a user."""


def instance_prefix(service, environment, deployment_id):
    """How the names of a deployment's instances begin."""
    return f"mech-{service}-{environment}-{deployment_id}-"


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a backend needs to start one version of a service.

    ``env`` holds the values to inject; backends never log or echo them.
    """

    deployment_id: int
    service: str
    environment: str
    version: str
    preferred_port: int
    image: str = ""
    command: str = ""
    directory: str = ""
    env: dict = field(default_factory=dict, repr=False)
    # Makes the name unique beyond this database: a container left by a
    # registry whose database was reset, or by another registry on the same
    # engine, never holds the name a deployment needs.
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))

    @property
    def name(self):
        prefix = instance_prefix(self.service, self.environment, self.deployment_id)
        return prefix + self.suffix


@dataclass(frozen=True)
class Instance:
    handle: str
    address: str
    digest: str = ""


@dataclass(frozen=True)
class Prepared:
    """A new instance made ready to run; ``handle`` is set if it exists yet."""

    spec: LaunchSpec
    port: int
    handle: str = ""
    digest: str = ""

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


class Backend:
    """The interface every backend implements.

    ``start`` is ``prepare`` then ``launch``: a strategy that must stop the
    old release first (recreate) stops it while the new one is prepared and
    launches the new one after, so the service is down only for the launch.
    """

    kind = ""

    def prepare(self, spec, log, port=None, before_create=None):
        """Do everything short of running; ``port`` overrides the choice.

        ``before_create()``, when given, is called once everything that can
        be checked without creating the instance has been (the image is
        there): recreate begins stopping the old release at that point.
        """
        if before_create is not None:
            before_create()
        return Prepared(spec, port or pick_port(spec.preferred_port))

    def launch(self, prepared, log):
        """Run a prepared instance; return an ``Instance``."""
        raise NotImplementedError

    def start(self, spec, log):
        """Start ``spec``; return an ``Instance``. ``log(message)`` records steps."""
        return self.launch(self.prepare(spec, log), log)

    def stop(self, handle, log):
        """Stop and remove the instance; a missing instance is not an error."""
        raise NotImplementedError

    def halt(self, handle, log, port=None):
        """Stop the instance; what it leaves behind goes with ``discard``."""
        self.begin_halt(handle, log, port)()

    def begin_halt(self, handle, log, port=None):
        """Begin stopping the instance; return a function that waits for it.

        With ``port``, a backend may have that function return as soon as
        nothing listens there any more and finish the stop in the
        background; ``discard`` then waits for it. This one stops at once.
        """
        self.stop(handle, log)
        return lambda: None

    def discard(self, handle, log):
        """Remove what ``halt`` left behind."""

    def is_running(self, handle):
        raise NotImplementedError

    def instances_of(self, deployment_id):
        """Handles of instances made for a deployment, found without its row.

        For a worker that died between creating an instance and recording
        it; backends that cannot tell return nothing.
        """
        return []

    def stopped_instances(self):
        """``(handle, name, deployment id)`` of instances that no longer run.

        What a worker that died before removing them left behind; backends
        whose stopped instances leave nothing return nothing.
        """
        return []

    def output_tail(self, handle, lines=20):
        """The last lines the instance printed, for a failed deployment's log."""
        raise NotImplementedError

    def image_available(self, image):
        """Whether ``image`` can be started without building anything."""
        return True


def port_is_free(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: connections of a stopped release lingering in
        # TIME_WAIT on the port do not keep a new listener from binding it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_port_free(port, done, timeout, host="127.0.0.1", interval=0.001):
    """Poll until nothing listens on ``port`` or ``done()``; True when free."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_is_free(port, host):
            return True
        if done():
            return port_is_free(port, host)
        time.sleep(interval)
    return False


def pick_port(preferred=None, host="127.0.0.1", taken=()):
    """``preferred`` when free and not ``taken``, else a port the kernel picks.

    ``taken`` are ports other deployments hold without listening yet (see
    ``runner.reserve_port``). A process outside the registry can still take
    the port between this check and the service's bind.
    """
    if preferred and preferred not in taken and port_is_free(preferred, host):
        return preferred
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port

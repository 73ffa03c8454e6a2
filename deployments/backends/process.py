"""Runs versions as supervised local processes: the embedded default.

Each instance is a detached supervisor (``supervise.py``) running the
definition's ``process.command`` on loopback, on the service's configured
port when it is free and another free port otherwise, given in ``PORT``.
The command gets the worker's PATH (without the registry's virtualenv),
locale, time zone and HOME, ``PORT``, ``MECH_VERSION``, ``MECH_SERVICE`` and
the service's configured values; nothing else of the worker's environment,
which holds the registry's secrets.

Known limitation: instances live on the machine of the worker that started
them, so with workers on several machines a stop or check may run where the
process is not; the process backend is meant for a single machine, and the
docker backend for more.
"""

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from deployments.backends.base import (
    Backend,
    BackendError,
    Instance,
)

BASE_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")
SUPERVISOR = Path(__file__).with_name("supervise.py")
STOP_WAIT_SECONDS = 8
SPAWN_TIMEOUT_SECONDS = 5


def _exit_marker(pidfile):
    """Written by the supervisor each time the command exits (see supervise.py)."""
    return pidfile.with_suffix(".exited")


def _base_environment():
    """PATH, locale, time zone and HOME of the worker; nothing else of it.

    The registry's own virtualenv is taken off PATH so a service's
    ``python3`` is the machine's, not the registry's.
    """
    env = {key: os.environ[key] for key in BASE_ENV_KEYS if key in os.environ}
    own_bin = str(Path(sys.executable).parent)
    if "PATH" in env:
        parts = [part for part in env["PATH"].split(os.pathsep) if part != own_bin]
        env["PATH"] = os.pathsep.join(parts)
    return env


class ProcessBackend(Backend):
    kind = "process"

    def __init__(self, state_dir=None):
        self.state_dir = Path(state_dir or settings.MECH["PROCESS_DIR"])

    def paths(self, name):
        return self.state_dir / f"{name}.pid", self.state_dir / f"{name}.log"

    def launch(self, prepared, log):
        spec, port = prepared.spec, prepared.port
        if not spec.command:
            raise BackendError("the service's definition has no process.command")
        argv = shlex.split(spec.command.replace("{version}", spec.version))
        directory = Path(spec.directory or ".")
        if not directory.is_dir():
            raise BackendError(f"working directory {directory} does not exist")

        self.state_dir.mkdir(parents=True, exist_ok=True)
        pidfile, logfile = self.paths(spec.name)
        pidfile.unlink(missing_ok=True)
        _exit_marker(pidfile).unlink(missing_ok=True)
        env = _base_environment()
        env.update(spec.env)
        env.update(PORT=str(port), MECH_VERSION=spec.version, MECH_SERVICE=spec.service)

        log(f"starting `{argv[0]}` in {directory} on port {port}")
        # The supervisor runs as a plain script (it needs only the standard
        # library), so nothing of the registry's own import path leaks in.
        launcher = [sys.executable, str(SUPERVISOR)]
        launcher += ["--pidfile", str(pidfile), "--log", str(logfile), "--", *argv]
        parent = subprocess.run(
            launcher,
            cwd=directory,
            env=env,
            timeout=SPAWN_TIMEOUT_SECONDS,
            check=False,
        )
        if parent.returncode != 0 or not pidfile.exists():
            raise BackendError("the process supervisor did not start")
        handle = f"{socket.gethostname()}:{pidfile.read_text().strip()}:{spec.name}"
        return Instance(handle=handle, address=f"127.0.0.1:{port}")

    def _pid(self, handle):
        """The supervisor's pid if it is still the process we started, else None."""
        host, pid, name = handle.split(":", 2)
        if host != socket.gethostname():
            raise BackendError(f"the process runs on {host}, not on this machine")
        pidfile, _ = self.paths(name)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        # Guards against a recycled pid: ours names its own pidfile.
        if str(pidfile).encode() not in cmdline:
            return None
        return int(pid)

    def stop(self, handle, log):
        pid = self._pid(handle)
        if pid is None:
            log("the process has already exited")
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while time.monotonic() < deadline and self._pid(handle) is not None:
            time.sleep(0.05)
        if self._pid(handle) is not None:
            os.killpg(pid, signal.SIGKILL)
        log(f"stopped process {pid}")

    def is_running(self, handle):
        """False once the command has exited, even if its supervisor restarts it.

        Used by the health gate: a release that crashes while starting fails
        at once instead of at the gate's deadline.
        """
        _, _, name = handle.split(":", 2)
        pidfile, _ = self.paths(name)
        if _exit_marker(pidfile).exists():
            return False
        return self._pid(handle) is not None

    def output_tail(self, handle, lines=20):
        _, _, name = handle.split(":", 2)
        _, logfile = self.paths(name)
        try:
            text = logfile.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

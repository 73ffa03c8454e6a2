"""A real Celery worker run as a subprocess for end-to-end tests.

The worker consumes the suite's own queue on the real broker and writes to
the pytest-django test database, exactly as a production worker would; the
tests talk to it only through the broker and the database.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

READY_TIMEOUT = 45
STOP_TIMEOUT = 20
NGINX_PORTS = (20000, 60000)


def database_url(database):
    """A DATABASE_URL naming the same PostgreSQL database as ``database``."""
    user = quote(database["USER"] or "", safe="")
    password = quote(database["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@"
    host = database["HOST"] or "127.0.0.1"
    port = database["PORT"] or 5432
    return f"postgres://{credentials}{host}:{port}/{database['NAME']}"


def nginx_env(directory):
    """Settings that give a worker its own nginx on a free loopback port.

    Only services that enable nginx and name a domain are routed through
    it; nginx starts at the first such deployment and keeps its files in
    ``directory``. Empty when no nginx binary is installed.
    """
    binary = shutil.which(settings.MECH["NGINX_BIN"]) or shutil.which("/usr/sbin/nginx")
    if binary is None:
        return {}
    return {
        "MECH_NGINX_LISTEN": f"127.0.0.1:{_free_port()}",
        "MECH_NGINX_DIR": str(directory),
        "MECH_NGINX_BIN": binary,
    }


def _free_port():
    for _ in range(100):
        port = random.randint(*NGINX_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found on 127.0.0.1")


class Worker:
    """One ``celery worker`` process, started and stopped by its pid."""

    def __init__(self, app, queue, env, log_path):
        self.app = app
        self.queue = queue
        self.env = env
        self.log_path = Path(log_path)
        self.name = f"{queue}@{socket.gethostname()}"
        self.process = None

    def start(self):
        celery = Path(sys.executable).parent / "celery"
        command = [
            str(celery),
            "-A",
            "config",
            "worker",
            "--pool=threads",
            "--concurrency=4",
            "-Q",
            self.queue,
            "-n",
            self.name,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the Celery worker exited with {self.process.returncode}:\n"
                    + self.log_tail()
                )
            replies = self.app.control.ping(destination=[self.name], timeout=1.0)
            if any(self.name in reply for reply in replies):
                return
        self.stop()
        raise RuntimeError(
            f"the Celery worker did not answer a ping in {READY_TIMEOUT}s:\n"
            + self.log_tail()
        )

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self):
        """End the worker at once, as a crash would: no task gets to finish."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)


def stop_supervisors(process_dir):
    """Stop the process-backend supervisors the worker left running.

    Each supervisor wrote its pid to a file in ``process_dir``; a pid counts
    only while its command line still names that file, as in the backend.
    """
    for pidfile in Path(process_dir).glob("*.pid"):
        pid = pidfile.read_text().strip()
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(pidfile).encode() in cmdline:
            os.kill(int(pid), signal.SIGTERM)

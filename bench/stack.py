"""The real parts a benchmark runs against, started on loopback and stopped again.

``Stack`` reuses a Docker engine and registry that already answer, or starts
them with the same shell functions the test suite uses
(``scripts/lib/services.sh``). It gives the benchmark its own PostgreSQL
database and Redis database number, then starts the registry's web server
(gunicorn) and a Celery worker as subprocesses. Every process it starts is
remembered by pid and stopped in ``close``; nothing else is touched.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
POSTGRES_PORT = 5432
REDIS_PORT = 6379
REGISTRY = "127.0.0.1:5000"
START_TIMEOUT = 60
STOP_TIMEOUT = 20
# The benchmark polls the API faster than a person would; its own server
# gets throttle limits that a polling loop cannot reach.
UNTHROTTLED = "1000000/min"


class StackError(Exception):
    """A part could not be started; the message says how to start it."""


def free_port():
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def tcp_open(port, host=LOOPBACK):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def http_ok(url, headers=None, timeout=2):
    """True when ``url`` (on loopback) answers below 500; ignores proxies."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise StackError(f"{what} did not happen within {timeout}s")


class Stack:
    """Everything one benchmark run needs, and the pids of what it started."""

    def __init__(self, state_dir, database, redis_db, docker_dir, nginx=True):
        self.state_dir = Path(state_dir)
        self.database = database
        self.redis_db = redis_db
        self.docker_dir = Path(docker_dir)
        self.docker_host = f"unix://{self.docker_dir}/docker.sock"
        self.nginx_bin = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
        self.nginx = nginx and self.nginx_bin is not None
        self.queue = f"mech-bench-{os.getpid()}"
        self.web_port = free_port()
        self.nginx_listen = f"{LOOPBACK}:{free_port()}" if self.nginx else ""
        self.started = []
        self.env = self._environment()

    @property
    def base_url(self):
        return f"http://{LOOPBACK}:{self.web_port}"

    @property
    def nginx_dir(self):
        return self.state_dir / "nginx"

    def _environment(self):
        env = {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://postgres@{LOOPBACK}:{POSTGRES_PORT}/{self.database}"
            ),
            "CELERY_BROKER_URL": f"redis://{LOOPBACK}:{REDIS_PORT}/{self.redis_db}",
            "CELERY_QUEUE": self.queue,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "LOG_JSON": "false",
            "DOCKER_HOST": self.docker_host,
            "MECH_STATE_DIR": str(self.state_dir / "registry"),
            "MECH_THROTTLE_KEY": UNTHROTTLED,
            "MECH_THROTTLE_USER": UNTHROTTLED,
            "MECH_THROTTLE_ADDRESS": UNTHROTTLED,
            "MECH_NGINX_LISTEN": self.nginx_listen,
            "MECH_NGINX_DIR": str(self.nginx_dir),
        }
        if self.nginx:
            env["MECH_NGINX_BIN"] = self.nginx_bin
        for name in ("MECH_ENCRYPTION_KEYS", "REDIS_URL", "MECH_INSECURE_REGISTRIES"):
            env.pop(name, None)
        return env

    # Docker engine and registry -------------------------------------------

    def ensure_docker_and_registry(self, start=True):
        """Reuse a Docker engine and registry that answer, or start them."""
        if self._docker_answers() and http_ok(f"http://{REGISTRY}/v2/"):
            return
        if not start:
            raise StackError(
                f"no Docker engine at {self.docker_host} or no registry at "
                f"{REGISTRY}; start them with scripts/test.sh, or run without "
                "--no-start-services"
            )
        self._run_services_sh()
        if not self._docker_answers():
            raise StackError(
                f"dockerd does not answer at {self.docker_host}; see "
                f"{self.docker_dir}/dockerd.log"
            )
        if not http_ok(f"http://{REGISTRY}/v2/"):
            raise StackError(f"no registry answers on {REGISTRY}")

    def _docker_answers(self):
        result = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env=self.env,
            capture_output=True,
            timeout=10,
        )
        return result.returncode == 0

    def _run_services_sh(self):
        script = "source scripts/lib/services.sh; start_dockerd; start_registry"
        env = {
            **self.env,
            "MR_STATE_DIR": str(self.state_dir),
            "MR_DOCKER_DIR": str(self.docker_dir),
        }
        subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, timeout=120)
        pids = self.state_dir / "pids"
        if pids.exists():
            for line in pids.read_text().splitlines():
                name, _, pid = line.partition(" ")
                self.started.append((name, int(pid), None))

    # PostgreSQL and Redis -------------------------------------------------

    def check_postgres_and_redis(self):
        if not tcp_open(POSTGRES_PORT):
            raise StackError(f"nothing listens on {LOOPBACK}:{POSTGRES_PORT}")
        if not tcp_open(REDIS_PORT):
            raise StackError(f"nothing listens on {LOOPBACK}:{REDIS_PORT}")

    def recreate_database(self):
        """Drop and create the benchmark's own database, then migrate it."""
        import psycopg

        with psycopg.connect(
            host=LOOPBACK, port=POSTGRES_PORT, user="postgres", dbname="postgres"
        ) as connection:
            connection.autocommit = True
            name = psycopg.sql.Identifier(self.database)
            connection.execute(
                psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name)
            )
            connection.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(name))
        self.manage("migrate", "--noinput", "-v0")

    def manage(self, *arguments):
        subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=300,
        )

    def forget_queue(self):
        import redis

        client = redis.Redis(host=LOOPBACK, port=REDIS_PORT, db=self.redis_db)
        client.delete(self.queue, f"_kombu.binding.{self.queue}")

    # Web server and worker ------------------------------------------------

    def _spawn(self, name, command):
        log = open(self.state_dir / f"{name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.started.append((name, process.pid, process))
        return process

    def start_web(self, workers):
        process = self._spawn(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"{LOOPBACK}:{self.web_port}",
                "--workers",
                str(workers),
                "--no-control-socket",
            ],
        )
        wait_until(
            lambda: process.poll() is None and http_ok(f"{self.base_url}/api/"),
            START_TIMEOUT,
            f"gunicorn answering on {self.base_url} (see {self.log('gunicorn')})",
        )

    def start_worker(self, concurrency):
        """A worker like the Procfile's (prefork pool) on the benchmark's queue."""
        process = self._spawn(
            "worker",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={concurrency}",
                "-Q",
                self.queue,
                "-n",
                f"{self.queue}@{socket.gethostname()}",
            ],
        )
        log = self.log("worker")
        wait_until(
            lambda: process.poll() is None and " ready." in log.read_text(),
            START_TIMEOUT,
            f"the Celery worker to be ready (see {log})",
        )

    def log(self, name):
        return self.state_dir / f"{name}.log"

    # Stopping -------------------------------------------------------------

    def stop_nginx(self):
        if not self.nginx:
            return
        from deployments.traffic.nginx import NginxRouter

        NginxRouter(directory=self.nginx_dir, listen=self.nginx_listen).stop()

    def close(self):
        """Stop, newest first, every process this stack started, by its pid."""
        for name, pid, process in reversed(self.started):
            _stop(name, pid, process)
        self.started = []


def _stop(name, pid, process):
    if process is not None and process.poll() is not None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if _wait_exit(pid, process, STOP_TIMEOUT):
        return
    print(f"{name} ({pid}) ignored SIGTERM; killing it", file=sys.stderr)
    os.kill(pid, signal.SIGKILL)
    _wait_exit(pid, process, STOP_TIMEOUT)


def _wait_exit(pid, process, timeout):
    if process is not None:
        try:
            process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False

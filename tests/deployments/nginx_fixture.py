"""A real nginx on loopback and tiny backends for the traffic tests.

Test modules import the ``*_fixture`` functions; pytest knows them by the
name given in their decorator. The nginx runs from its own
directory under the test's tmp path, listens on free high ports of
127.0.0.1 only, and is stopped by the pid in its pid file at the end.
Without an nginx binary the tests skip, or fail under CI.
"""

import random
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.conf import settings

from deployments.traffic.nginx import NginxRouter
from services.models import Service
from tests.parts import require_part

LOOPBACK = "127.0.0.1"
PORT_RANGE = (20000, 60000)
REQUEST_TIMEOUT = 5


def free_port():
    """A random high port nothing on 127.0.0.1 listens on right now."""
    for _ in range(100):
        port = random.randint(*PORT_RANGE)
        with socket.socket() as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found on 127.0.0.1")


def nginx_binary():
    configured = settings.MECH["NGINX_BIN"]
    found = shutil.which(configured) or shutil.which("/usr/sbin/nginx")
    require_part(
        "nginx",
        found is not None,
        f"{configured!r} is not installed (apt-get install -y nginx-light)",
    )
    return found


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body as one write: no Nagle stall of ~40 ms per answer.
    wbufsize = -1
    disable_nagle_algorithm = True

    def do_GET(self):
        backend = self.server.backend
        backend.seen_headers.append(dict(self.headers))
        body = backend.name.encode()
        self.send_response(backend.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class Backend:
    """An HTTP server on 127.0.0.1 that answers every GET with its name."""

    def __init__(self, name, status=200):
        self.name = name
        self.status = status
        self.seen_headers = []
        self.server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        self.server.daemon_threads = True
        self.server.backend = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return f"{LOOPBACK}:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(REQUEST_TIMEOUT)


@pytest.fixture(name="backends")
def backends_fixture():
    """``backends("blue")`` starts a backend; all are closed after the test."""
    started = []

    def start(name, status=200):
        backend = Backend(name, status)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.close()


@pytest.fixture(name="nginx_router")
def nginx_router_fixture(tmp_path):
    """An ``NginxRouter`` with its own nginx on free loopback ports."""
    router = NginxRouter(
        directory=tmp_path / "nginx",
        listen=f"{LOOPBACK}:{free_port()}",
        ssl_listen=f"{LOOPBACK}:{free_port()}",
        binary=nginx_binary(),
        cert_dir=tmp_path / "certs",
        reload_timeout=10.0,
    )
    try:
        yield router
    finally:
        router.stop()


@pytest.fixture(name="client")
def client_fixture():
    """A requests session that ignores proxy variables: loopback only."""
    session = requests.Session()
    session.trust_env = False
    with session:
        yield session


def make_service(slug="shop", domains=("shop.example.test",), ssl=False):
    """An unsaved service: the router reads only its fields."""
    return Service(
        slug=slug,
        name=slug,
        port=8000,
        domains=list(domains),
        nginx_enabled=True,
        nginx_ssl=ssl,
    )


def get_through(client, router, hostname, path="/", **kwargs):
    """GET ``path`` through the router's plain listen address as ``hostname``."""
    return client.get(
        f"http://{router.listen}{path}",
        headers={"Host": hostname, **kwargs.pop("headers", {})},
        timeout=REQUEST_TIMEOUT,
        **kwargs,
    )

"""The registry's own nginx: one config file per service and environment.

Everything lives under ``MECH["NGINX_DIR"]``: a main ``nginx.conf`` the
registry writes, the pid file, logs, temp paths and generated certificates,
so the same code runs nginx as root or as an ordinary user, beside (never
inside) a system nginx. The main file includes ``sites/*.conf``; each site
file holds one ``upstream`` with the weighted servers (nginx's weighted
round robin, shared by all workers through a ``zone``) and one ``server``
block per hostname.

Environments and hostnames: the same hostname cannot be served twice on the
same listen address, so the primary environment
(``MECH["NGINX_PRIMARY_ENVIRONMENT"]``, ``production`` by default) serves
each domain as given and every other environment serves
``<environment>.<domain>``: ``shop.example.com`` in production,
``staging.shop.example.com`` in staging (``*.example.com`` becomes
``*.staging.example.com``). A hostname already served by another service
is refused rather than silently shadowed.

Every server block listens on ``MECH["NGINX_LISTEN"]``; a service with
``nginx_ssl`` also listens on ``MECH["NGINX_SSL_LISTEN"]`` with the
certificate from ``deployments.traffic.tls``. Plain HTTP is still served
for those hostnames; redirecting it is left to the operator.

A change is written atomically, checked with ``nginx -t`` and only then
applied with a reload; if either step fails the previous files are put back
and ``TrafficError`` names nginx's complaint. An ``fcntl`` lock on a file in
the state dir serialises writers, so several Celery workers on one machine
can deploy at once.

Each site has an access log of JSON lines carrying ``$upstream_addr`` and
``$upstream_status``; ``upstream_stats`` reads it from an offset.
"""

import fcntl
import json
import logging
import os
import re
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from deployments.traffic import (
    AddressStats,
    Router,
    TrafficError,
    UpstreamStats,
    check_hostname,
    environment_name,
    normalize_upstreams,
    wants_proxy,
)
from deployments.traffic.tls import certificate_for

logger = logging.getLogger(__name__)

WORKER_PROCESSES = 2
COMMAND_TIMEOUT = 30
STOP_TIMEOUT = 10
POLL_SECONDS = 0.02
UPSTREAM_KEEPALIVE = 16
ERROR_TAIL_BYTES = 4000
ERROR_LOG_WAIT = 2.0

_LISTEN = re.compile(r"^[A-Za-z0-9.:\[\]*-]+$")
_SERVER_NAME = re.compile(r"^\s*server_name\s+([^;]+);", re.MULTILINE)
_UPSTREAM_SEPARATOR = re.compile(r"\s*,\s*|\s+:\s+")

LOG_FORMAT = (
    '{"time":"$time_iso8601","host":"$host","method":"$request_method",'
    '"uri":"$request_uri","status":$status,"upstream":"$upstream_addr",'
    '"upstreamStatus":"$upstream_status","requestTime":$request_time}'
)


class NginxRouter(Router):
    """Writes, validates and reloads the registry's nginx configuration."""

    def __init__(
        self,
        *,
        directory,
        listen,
        ssl_listen="",
        binary="nginx",
        primary_environment="production",
        cert_dir="",
        reload_timeout=10.0,
    ):
        for value in (listen, ssl_listen):
            if value and not _LISTEN.match(value):
                raise ImproperlyConfigured(f"{value!r} is not an nginx listen address")
        self.directory = Path(directory).resolve()
        self.listen = listen
        self.ssl_listen = ssl_listen
        self.binary = binary
        self.primary_environment = primary_environment
        self.cert_dir = cert_dir
        self.reload_timeout = reload_timeout

    @classmethod
    def from_settings(cls):
        mech = settings.MECH
        return cls(
            directory=mech["NGINX_DIR"],
            listen=mech["NGINX_LISTEN"],
            ssl_listen=mech["NGINX_SSL_LISTEN"],
            binary=mech["NGINX_BIN"],
            primary_environment=mech["NGINX_PRIMARY_ENVIRONMENT"],
            cert_dir=mech["TLS_CERT_DIR"],
            reload_timeout=mech["NGINX_RELOAD_TIMEOUT"],
        )

    # Paths ---------------------------------------------------------------

    @property
    def main_conf(self):
        return self.directory / "nginx.conf"

    @property
    def pid_file(self):
        return self.directory / "nginx.pid"

    @property
    def error_log(self):
        return self.directory / "logs" / "error.log"

    @property
    def tls_dir(self):
        return self.directory / "tls"

    def site_name(self, service, environment):
        # Slugs never contain a dot, so "slug.environment" is unambiguous.
        return f"{service.slug}.{environment_name(environment)}"

    def site_path(self, service, environment):
        return self.directory / "sites" / f"{self.site_name(service, environment)}.conf"

    def access_log(self, service, environment):
        name = self.site_name(service, environment)
        return self.directory / "logs" / f"{name}.access.log"

    # Router interface ----------------------------------------------------

    def enabled_for(self, service):
        return wants_proxy(service)

    def hostnames(self, service, environment):
        """The hostnames this service answers to in ``environment``."""
        name = environment_name(environment)
        hostnames = []
        for domain in service.domains:
            domain = check_hostname(str(domain).strip().lower().rstrip("."))
            if name != self.primary_environment:
                domain = _prefixed(domain, name)
            hostnames.append(check_hostname(domain))
        return hostnames

    def set_upstreams(self, service, environment, weighted_addresses):
        # Known limitation: a reload closes the old workers' idle keep-alive
        # connections, so a client that reuses one at that instant may see it
        # closed without an answer (seen about once in a dozen switches); new
        # connections, and clients that retry idempotent requests, see no error.
        upstreams = normalize_upstreams(weighted_addresses)
        if not self.enabled_for(service):
            self.remove(service, environment)
            return

        path = self.site_path(service, environment)
        hostnames = self.hostnames(service, environment)
        with self._locked():
            self._prepare_directories()
            self._refuse_taken(hostnames, path)
            content = self.render_site(service, environment, hostnames, upstreams)
            self._apply({path: content})
        logger.info(
            "traffic for %s in %s now goes to %s",
            service.slug,
            environment_name(environment),
            ", ".join(f"{address} ({weight}%)" for address, weight in upstreams),
        )

    def remove(self, service, environment):
        path = self.site_path(service, environment)
        with self._locked():
            if not path.exists():
                return
            if self.running_pid() is None:
                _write(path, None)
                return
            self._prepare_directories()
            self._apply({path: None})

    def log_offset(self, service, environment):
        try:
            return self.access_log(service, environment).stat().st_size
        except FileNotFoundError:
            return 0

    def upstream_stats(self, service, environment, since_offset=0):
        path = self.access_log(service, environment)
        try:
            with path.open("rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                # A truncated (rotated by copy) log starts again from the top.
                offset = since_offset if since_offset <= size else 0
                stream.seek(offset)
                data = stream.read(size - offset)
        except FileNotFoundError:
            return UpstreamStats(offset=0)

        # A line nginx is still writing is left for the next call.
        complete = data[: data.rfind(b"\n") + 1]
        stats = UpstreamStats(offset=offset + len(complete))
        for line in complete.splitlines():
            _count_line(stats.addresses, line)
        return stats

    # Running nginx -------------------------------------------------------

    def running_pid(self):
        """The master's pid when this directory's nginx runs, else None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if str(self.main_conf).encode() not in command or _is_zombie(pid):
            return None
        return pid

    def ensure_running(self):
        """Start this directory's nginx unless it runs; returns the master pid."""
        with self._locked():
            self._prepare_directories()
            pid = self.running_pid()
            if pid is None:
                self._apply({})
                pid = self.running_pid()
            return pid

    def stop(self, timeout=STOP_TIMEOUT):
        """Stop this directory's nginx by the pid in its pid file."""
        pid = self.running_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGQUIT)
        if not _wait_for(lambda: not _alive(pid), timeout):
            os.kill(pid, signal.SIGTERM)
            _wait_for(lambda: not _alive(pid), timeout)

    # Rendering -----------------------------------------------------------

    def render_main(self):
        directory = self.directory
        temp = directory / "temp"
        lines = [
            "# Written by Mech Registry; rewritten on every change.",
            f"worker_processes {WORKER_PROCESSES};",
            f"pid {self.pid_file};",
            f"error_log {self.error_log} warn;",
            "worker_shutdown_timeout 30s;",
            "",
            "events {",
            "    worker_connections 1024;",
            "}",
            "",
            "http {",
            f"    client_body_temp_path {temp}/client_body;",
            f"    proxy_temp_path {temp}/proxy;",
            f"    fastcgi_temp_path {temp}/fastcgi;",
            f"    uwsgi_temp_path {temp}/uwsgi;",
            f"    scgi_temp_path {temp}/scgi;",
            "    server_tokens off;",
            "    access_log off;",
            f"    log_format mech_json escape=json '{LOG_FORMAT}';",
            "",
            "    map $http_upgrade $connection_upgrade {",
            "        default upgrade;",
            "        '' '';",
            "    }",
            *_proxy_defaults(),
            "",
            "    # Hostnames no service claims get 404, never some service.",
            "    server {",
            f"        listen {self.listen} default_server;",
            "        server_name _;",
            "        return 404;",
            "    }",
        ]
        if self.ssl_listen:
            lines += [
                "    server {",
                f"        listen {self.ssl_listen} ssl default_server;",
                "        ssl_reject_handshake on;",
                "    }",
            ]
        lines += [f"    include {directory}/sites/*.conf;", "}", ""]
        return "\n".join(lines)

    def render_site(self, service, environment, hostnames, upstreams):
        name = self.site_name(service, environment)
        lines = [
            f"# Mech Registry: {service.slug} in {environment_name(environment)}.",
            "# Rewritten on every deployment; edits here are lost.",
            f"upstream {name} {{",
            f"    zone {name} 64k;",
        ]
        lines += [
            f"    server {address} weight={weight};" for address, weight in upstreams
        ]
        lines += [f"    keepalive {UPSTREAM_KEEPALIVE};", "}", ""]
        access_log = self.access_log(service, environment)
        for hostname in hostnames:
            lines += self._render_server(service, hostname, name, access_log)
        return "\n".join(lines)

    def _render_server(self, service, hostname, upstream, access_log):
        lines = ["server {", f"    listen {self.listen};"]
        if service.nginx_ssl and self.ssl_listen:
            pair = certificate_for(hostname, self.tls_dir, self.cert_dir)
            lines += [
                f"    listen {self.ssl_listen} ssl;",
                f"    ssl_certificate {pair.certificate};",
                f"    ssl_certificate_key {pair.key};",
            ]
        elif service.nginx_ssl:
            logger.warning(
                "%s asks for TLS but MECH_NGINX_SSL_LISTEN is not set; "
                "serving plain HTTP only",
                service.slug,
            )
        return lines + [
            f"    server_name {hostname};",
            f"    access_log {access_log} mech_json;",
            "    location / {",
            f"        proxy_pass http://{upstream};",
            "    }",
            "}",
            "",
        ]

    # Applying a change ---------------------------------------------------

    def _apply(self, changes):
        """Write ``changes`` (path → text, None to delete), test, reload.

        The caller holds the lock. On failure every file is put back as it
        was and nginx keeps serving the configuration it had.
        """
        changes = {self.main_conf: self.render_main(), **changes}
        previous = {path: _read(path) for path in changes}
        pid = self.running_pid()
        if pid is not None and all(previous[p] == c for p, c in changes.items()):
            return

        for path, content in changes.items():
            _write(path, content)
        try:
            self._test()
            if pid is None:
                self._start()
            else:
                self._reload(pid)
        except TrafficError:
            for path, content in previous.items():
                _write(path, content)
            raise

    def _command(self, *arguments):
        command = [
            self.binary,
            "-p",
            f"{self.directory}/",
            "-e",
            str(self.error_log),
            "-c",
            str(self.main_conf),
            *arguments,
        ]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
            )
        except FileNotFoundError:
            raise TrafficError(f"the nginx binary {self.binary!r} was not found")
        except subprocess.TimeoutExpired:
            raise TrafficError(f"{self.binary} {' '.join(arguments)} timed out")

    def _test(self):
        result = self._command("-t", "-q")
        if result.returncode != 0:
            raise TrafficError(
                f"nginx rejected the configuration: {_complaint(result.stderr)}"
            )

    def _start(self):
        result = self._command()
        if result.returncode != 0:
            raise TrafficError(f"nginx did not start: {_complaint(result.stderr)}")
        if not _wait_for(lambda: self.running_pid() is not None, self.reload_timeout):
            raise TrafficError(f"nginx did not start: {self._error_tail()}")
        logger.info("started nginx for %s", self.directory)

    def _reload(self, pid):
        """Reload and wait until the new workers serve and the old have drained."""
        old_workers = _children(pid)
        error_offset = _size(self.error_log)
        os.kill(pid, signal.SIGHUP)

        def reloaded():
            workers = _children(pid)
            return bool(workers - old_workers)

        if not _wait_for(reloaded, self.reload_timeout):
            # The master logs why it refused; on a busy machine it may not
            # have written that yet when the wait above ends.
            _wait_for(lambda: _size(self.error_log) > error_offset, ERROR_LOG_WAIT)
            raise TrafficError(
                f"nginx did not reload: {self._error_tail(error_offset)}"
            )
        if not _wait_for(
            lambda: not (_children(pid) & old_workers), self.reload_timeout
        ):
            logger.warning("old nginx workers are still finishing requests")

    def _error_tail(self, since=0):
        try:
            with self.error_log.open("rb") as stream:
                stream.seek(max(since, _size(self.error_log) - ERROR_TAIL_BYTES))
                text = stream.read().decode(errors="replace")
        except FileNotFoundError:
            return "no error log was written"
        return _complaint(text) or "no error was logged"

    # Files and locking ---------------------------------------------------

    def _prepare_directories(self):
        for name in ("sites", "logs", "tls", "temp"):
            (self.directory / name).mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _locked(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _refuse_taken(self, hostnames, own_path):
        """Refuse hostnames another site file already serves."""
        wanted = set(hostnames)
        for path in sorted((self.directory / "sites").glob("*.conf")):
            if path == own_path:
                continue
            served = set()
            for names in _SERVER_NAME.findall(path.read_text()):
                served.update(names.split())
            taken = wanted & served
            if taken:
                raise TrafficError(
                    f"{', '.join(sorted(taken))} is already served by {path.stem}"
                )


def _proxy_defaults():
    """Proxy settings every site's locations inherit from the http block."""
    return [
        "    proxy_http_version 1.1;",
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Real-IP $remote_addr;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header X-Forwarded-Host $host;",
        "    proxy_set_header Upgrade $http_upgrade;",
        "    proxy_set_header Connection $connection_upgrade;",
        # An instance that refuses connections or is going away is skipped
        # for the other one; a 500 from the application is passed through,
        # so the canary's error rate sees it.
        "    proxy_next_upstream error timeout http_502 http_503 http_504;",
        "    proxy_next_upstream_tries 3;",
        "    proxy_next_upstream_timeout 10s;",
        "    proxy_connect_timeout 5s;",
        # Known limitation: when nginx runs as root its workers run as
        # nobody, and request bodies larger than client_body_buffer_size are
        # buffered under the state dir, which that user may not reach.
        "    proxy_max_temp_file_size 0;",
    ]


def _prefixed(domain, environment):
    if domain.startswith("*."):
        return f"*.{environment}.{domain[2:]}"
    return f"{environment}.{domain}"


def _count_line(addresses, line):
    try:
        entry = json.loads(line)
    except ValueError:
        return
    upstreams = _UPSTREAM_SEPARATOR.split(entry.get("upstream") or "")
    statuses = _UPSTREAM_SEPARATOR.split(entry.get("upstreamStatus") or "")
    for address, status in zip(upstreams, statuses, strict=False):
        if not address or address == "-":
            continue
        counts = addresses.setdefault(address, AddressStats())
        counts.requests += 1
        if status.isdigit() and int(status) >= 500:
            counts.errors += 1


def _complaint(stderr):
    """The lines of nginx's output that say what is wrong."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    serious = [line for line in lines if "[emerg]" in line or "[alert]" in line]
    return "; ".join(serious or lines[-3:])


def _read(path):
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _write(path, content):
    """Replace ``path`` atomically, or delete it when ``content`` is None."""
    if content is None:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(content)
    os.replace(temporary, path)


def _size(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _is_zombie(pid):
    fields = _stat_fields(pid)
    return fields is None or fields[0] == "Z"


def _alive(pid):
    return not _is_zombie(pid)


def _children(pid):
    """Live processes whose parent is ``pid``; Linux only (reads /proc)."""
    children = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields and fields[0] != "Z" and int(fields[1]) == pid:
            children.add(int(entry.name))
    return children


def _wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)

"""Tiny test images, built locally and served only by the loopback registry.

Each image is a root filesystem holding Debian's static busybox and a start
script running ``busybox httpd`` on 127.0.0.1:$PORT (the docker backend
injects PORT and uses host networking); ``/greeting`` echoes the injected
GREETING variable and the CGI ``/cgi-bin/work`` answers with the version.

What a release does is its kind:

- ``HEALTHY`` ships ``/www/health``;
- ``BROKEN`` leaves it out, so its health check gets 404;
- ``PRINTS_ENV`` prints its whole environment to stdout and exits, as a
  careless service might when it cannot start;
- ``FAILS_REQUESTS`` is healthy but ``/cgi-bin/work`` answers 500, so only
  real traffic shows the problem;
- ``SLOW_START`` waits ``SLOW_START_SECONDS`` before it listens, which keeps
  its deployment on the health gate for that long;
- ``IGNORES_TERM`` is healthy but ignores SIGTERM, so only the engine's
  SIGKILL after its stop timeout ends it.

``publish`` also takes True and False for healthy and broken.
"""

import io
import tarfile
from pathlib import Path

BUSYBOX = Path("/usr/bin/busybox")
APPLETS = ("sh", "httpd", "cat", "ls", "sleep", "env", "printf")

HEALTHY = "healthy"
BROKEN = "broken"
PRINTS_ENV = "prints-env"
FAILS_REQUESTS = "fails-requests"
SLOW_START = "slow-start"
SLOW_START_SECONDS = 3
IGNORES_TERM = "ignores-term"

SERVE = """printf '%s\\n' "$GREETING" > /www/greeting
echo "serving $MECH_RELEASE on 127.0.0.1:$PORT"
exec /bin/busybox httpd -f -v -p "127.0.0.1:$PORT" -h /www
"""
START_SCRIPTS = {
    HEALTHY: SERVE,
    BROKEN: SERVE,
    FAILS_REQUESTS: SERVE,
    SLOW_START: f"sleep {SLOW_START_SECONDS}\n{SERVE}",
    # An ignored signal stays ignored across exec, so httpd ignores it too.
    IGNORES_TERM: f"trap '' TERM\n{SERVE}",
    PRINTS_ENV: "echo 'cannot start; my environment is:'\nenv\nexit 3\n",
}
WORK_OK = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n$MECH_RELEASE\\n'
"""
WORK_FAILS = """#!/bin/sh
printf 'Status: 500 Internal Server Error\\r\\n'
printf 'Content-Type: text/plain\\r\\n\\r\\nfailed in $MECH_RELEASE\\n'
"""


def _add(archive, name, data=b"", mode=0o644, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _kind(healthy_or_kind):
    if healthy_or_kind is True:
        return HEALTHY
    if healthy_or_kind is False:
        return BROKEN
    if healthy_or_kind not in START_SCRIPTS:
        raise ValueError(f"no test image kind {healthy_or_kind!r}")
    return healthy_or_kind


def root_filesystem(version, healthy_or_kind):
    """A tar archive of the image's root filesystem, as bytes."""
    kind = _kind(healthy_or_kind)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for folder in ("bin", "www", "www/cgi-bin", "tmp"):
            _add(archive, folder, mode=0o755, kind=tarfile.DIRTYPE)
        _add(archive, "bin/busybox", BUSYBOX.read_bytes(), mode=0o755)
        for applet in APPLETS:
            _add(archive, f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        start = "#!/bin/sh\n" + START_SCRIPTS[kind].replace("$MECH_RELEASE", version)
        _add(archive, "start", start.encode(), mode=0o755)
        _add(archive, "www/version", f"{version}\n".encode())
        work = WORK_FAILS if kind == FAILS_REQUESTS else WORK_OK
        work = work.replace("$MECH_RELEASE", version)
        _add(archive, "www/cgi-bin/work", work.encode(), mode=0o755)
        if kind != BROKEN:
            _add(archive, "www/health", b"ok\n")
    return buffer.getvalue()


def publish(client, repository, releases):
    """Build, push and then delete locally one image per release.

    ``releases`` maps a version to its kind (or True/False for healthy or
    broken). Afterwards the images exist only in the registry, so a
    deployment has to pull them.
    """
    for version, kind in releases.items():
        reference = f"{repository}:{version}"
        client.api.import_image_from_data(
            root_filesystem(version, kind),
            repository=repository,
            tag=version,
            changes=['CMD ["/start"]'],
        )
        for event in client.images.push(
            repository, tag=version, stream=True, decode=True
        ):
            if "error" in event:
                raise RuntimeError(f"pushing {reference} failed: {event['error']}")
        client.images.remove(reference, force=True)

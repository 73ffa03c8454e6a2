"""Tiny test images, built locally and served only by the loopback registry.

Each image is a root filesystem holding Debian's static busybox and a start
script running ``busybox httpd`` on 127.0.0.1:$PORT (the docker backend
injects PORT and uses host networking); ``/greeting`` echoes the injected
GREETING variable. A healthy release ships
``/www/health``; a broken one leaves it out, so its health check gets 404.
"""

import io
import tarfile
from pathlib import Path

BUSYBOX = Path("/usr/bin/busybox")
APPLETS = ("sh", "httpd", "cat", "ls", "sleep")
START_SCRIPT = """#!/bin/sh
printf '%s\n' "$GREETING" > /www/greeting
echo "serving $MECH_RELEASE on 127.0.0.1:$PORT"
exec /bin/busybox httpd -f -v -p "127.0.0.1:$PORT" -h /www
"""


def _add(archive, name, data=b"", mode=0o644, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def root_filesystem(version, healthy):
    """A tar archive of the image's root filesystem, as bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for folder in ("bin", "www", "tmp"):
            _add(archive, folder, mode=0o755, kind=tarfile.DIRTYPE)
        _add(archive, "bin/busybox", BUSYBOX.read_bytes(), mode=0o755)
        for applet in APPLETS:
            _add(archive, f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        start = START_SCRIPT.replace("$MECH_RELEASE", version)
        _add(archive, "start", start.encode(), mode=0o755)
        _add(archive, "www/version", f"{version}\n".encode())
        if healthy:
            _add(archive, "www/health", b"ok\n")
    return buffer.getvalue()


def publish(client, repository, releases):
    """Build, push and then delete locally one image per release.

    ``releases`` maps a version to whether it is healthy. Afterwards the
    images exist only in the registry, so a deployment has to pull them.
    """
    for version, healthy in releases.items():
        reference = f"{repository}:{version}"
        client.api.import_image_from_data(
            root_filesystem(version, healthy),
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

"""Docker image references: ``[registry/]repository[:tag][@digest]``.

The first path component names a registry when it looks like a host: it
holds a ``.`` or a ``:`` (a port, as in ``127.0.0.1:5000/team/app``), is
``localhost``, or has an upper-case letter (repository names never do).
Otherwise the reference is on Docker Hub, ``docker.io``, where a one-part
name such as ``app`` means ``library/app``.

A tag is the text after the last ``:`` that follows the last ``/``, so the
port of a registry is never mistaken for a tag.
"""

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
OFFICIAL_NAMESPACE = "library"
# Docker Hub's historical names, normalised to the one above.
LEGACY_REGISTRIES = frozenset({"index.docker.io", "registry-1.docker.io"})
MAX_NAME_LENGTH = 255

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Fa-f0-9]{32,}")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+\]")
_SHA256_HEX_LENGTH = 64


@dataclass(frozen=True)
class ImageReference:
    """A parsed reference; ``registry`` and ``repository`` are normalised."""

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self):
        """``registry/repository``, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self):
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_tag(self, tag):
        """The same repository at ``tag``, without a digest."""
        return ImageReference(self.registry, self.repository, tag=tag)

    def pinned(self, digest):
        """The same repository at ``digest``: what a deploy should run."""
        check_digest(digest)
        return ImageReference(self.registry, self.repository, digest=digest)


def check_digest(digest):
    """Raise ``ValueError`` unless ``digest`` is ``algorithm:hex``."""
    if not _DIGEST.fullmatch(digest or ""):
        raise ValueError(f"{digest!r} is not a digest (algorithm:hex)")
    algorithm, _, hex_part = digest.partition(":")
    if algorithm == "sha256" and len(hex_part) != _SHA256_HEX_LENGTH:
        raise ValueError(f"{digest!r}: a sha256 digest has 64 hex digits")
    return digest


def is_digest(text):
    try:
        check_digest(text)
    except ValueError:
        return False
    return True


def _looks_like_registry(component):
    return (
        "." in component
        or ":" in component
        or component == "localhost"
        or component != component.lower()
    )


def _check_registry(registry):
    host, port = registry, ""
    if registry.startswith("["):
        host, _, port = registry.rpartition("]")
        host += "]"
        if port and not port.startswith(":"):
            raise ValueError(f"registry {registry!r} is not host[:port]")
        port = port[1:]
        if not _IPV6.fullmatch(host):
            raise ValueError(f"registry {registry!r} has a malformed IPv6 address")
    else:
        host, _, port = registry.partition(":")
        if not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
            raise ValueError(f"registry {registry!r} is not a host name")
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"registry {registry!r} has an invalid port")
    if registry.endswith(":"):
        raise ValueError(f"registry {registry!r} has an empty port")


def _split_registry(name):
    first, slash, rest = name.partition("/")
    if slash and _looks_like_registry(first):
        _check_registry(first)
        if first.lower() in LEGACY_REGISTRIES:
            return DEFAULT_REGISTRY, rest
        return first, rest
    return DEFAULT_REGISTRY, name


def _check_repository(repository, reference):
    if not repository:
        raise ValueError(f"{reference!r} has no repository name")
    for component in repository.split("/"):
        if not _COMPONENT.fullmatch(component):
            raise ValueError(
                f"{reference!r}: {component!r} is not a valid repository "
                "component (lower-case letters, digits and single separators)"
            )


def parse(reference):
    """Parse an image reference; raise ``ValueError`` saying what is wrong."""
    if not isinstance(reference, str) or not reference:
        raise ValueError("the image reference is empty")
    if reference != reference.strip():
        raise ValueError(f"{reference!r} has surrounding spaces")

    rest, at, digest = reference.partition("@")
    if at:
        check_digest(digest)

    tag = ""
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ValueError(f"{reference!r} has an invalid tag {tag!r}")

    if len(rest) > MAX_NAME_LENGTH:
        raise ValueError(f"{reference!r}: the name is over {MAX_NAME_LENGTH} chars")
    registry, repository = _split_registry(rest)
    _check_repository(repository, reference)
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = f"{OFFICIAL_NAMESPACE}/{repository}"
    return ImageReference(registry, repository, tag=tag, digest=digest)

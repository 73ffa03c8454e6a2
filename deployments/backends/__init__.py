"""Backends run a service's version somewhere and stop it again.

Each backend implements the small ``Backend`` interface in ``base``; the
deployment runner knows nothing else about them.
"""

from django.conf import settings

from deployments.backends.base import Backend, BackendError, Instance, LaunchSpec
from deployments.choices import BackendKind

__all__ = [
    "Backend",
    "BackendError",
    "Instance",
    "LaunchSpec",
    "get_backend",
    "resolve",
]


def resolve(kind):
    """Turn ``auto`` into the backend this installation actually uses."""
    if kind != BackendKind.AUTO:
        return BackendKind(kind)
    return BackendKind.DOCKER if settings.MECH["DOCKER_HOST"] else BackendKind.PROCESS


def get_backend(kind):
    kind = resolve(kind)
    if kind == BackendKind.DOCKER:
        from deployments.backends.docker import DockerBackend

        return DockerBackend()
    from deployments.backends.process import ProcessBackend

    return ProcessBackend()

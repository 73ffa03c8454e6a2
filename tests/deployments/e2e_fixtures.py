"""Fixtures for end-to-end deployments: images, services, environments, nginx.

Test modules import the ``*_fixture`` functions; pytest knows them by the
name given in their decorator. Everything runs for real: the images are
pulled from the loopback registry by the Docker engine, the Celery worker
runs the deployments, and services that ask for nginx are routed through
the worker's own nginx on a loopback port (``tests.worker.nginx_env``).
"""

import uuid
from pathlib import Path

import pytest
from django.conf import settings

from deployments.backends.base import pick_port
from deployments.models import Environment
from deployments.traffic import wants_proxy
from deployments.traffic.nginx import NginxRouter
from tests.catalog import add_service
from tests.deployments.steps import remove_containers, set_variables
from tests.images import (
    BROKEN,
    FAILS_REQUESTS,
    HEALTHY,
    PRINTS_ENV,
    SLOW_START,
    publish,
)
from tests.parts import require_part

# One repository for every end-to-end test; releases are per service, so a
# release marked bad in one test is unknown to the next.
RELEASES = {
    "1.0.0": HEALTHY,
    "1.1.0": HEALTHY,
    "1.2.0": BROKEN,
    "1.3.0": PRINTS_ENV,
    "1.4.0": FAILS_REQUESTS,
    "1.5.0": SLOW_START,
}
GREETING = "hello from the e2e tests"


@pytest.fixture(scope="session", name="e2e_images")
def e2e_images_fixture(docker_client, local_registry):
    """``127.0.0.1:5000/tests/e2e`` in every release of ``RELEASES``."""
    repository = f"{local_registry}/tests/e2e"
    publish(docker_client, repository, RELEASES)
    return repository


@pytest.fixture(name="docker_environment")
def docker_environment_fixture(transactional_db):
    """``docker_environment(name, **fields)``: an environment on Docker."""

    def make(name, **fields):
        environment, _ = Environment.objects.update_or_create(
            name=name, defaults={"backend": "docker", **fields}
        )
        return environment

    return make


@pytest.fixture(name="routed")
def routed_fixture(celery_worker, monkeypatch):
    """The worker's nginx listen address; this process routes the same way."""
    nginx = celery_worker.nginx
    require_part("nginx", bool(nginx), "no nginx binary (apt-get install nginx-light)")
    monkeypatch.setattr(
        settings,
        "MECH",
        {
            **settings.MECH,
            "NGINX_LISTEN": nginx["MECH_NGINX_LISTEN"],
            "NGINX_DIR": Path(nginx["MECH_NGINX_DIR"]),
            "NGINX_BIN": nginx["MECH_NGINX_BIN"],
        },
    )
    return nginx["MECH_NGINX_LISTEN"]


def worker_router(worker):
    """The router the worker uses, or None when it has no nginx."""
    nginx = worker.nginx
    if not nginx:
        return None
    return NginxRouter(
        directory=nginx["MECH_NGINX_DIR"],
        listen=nginx["MECH_NGINX_LISTEN"],
        binary=nginx["MECH_NGINX_BIN"],
    )


@pytest.fixture(name="e2e_service")
def e2e_service_fixture(
    e2e_images, api, docker_client, celery_worker, running_instances
):
    """``e2e_service(*environments, nginx=False, optional=(), repository=...)``.

    A new service on the e2e images (or another repository), requiring
    GREETING, with GREETING set in each environment named. With ``nginx``
    it enables nginx for the domain ``<slug>.example.test``. Containers and
    nginx sites it leaves are removed after the test.
    """
    made = []

    def make(*environments, nginx=False, optional=(), repository=e2e_images):
        slug = f"e2e-{uuid.uuid4().hex[:8]}"
        registry, image = repository.rsplit("/", 1)
        data = {
            "id": slug,
            "name": slug,
            "docker": {"registry": registry, "image": image},
            "configuration": {
                "port": pick_port(),
                "healthCheck": "/health",
                "environment": {"required": ["GREETING"], "optional": list(optional)},
            },
        }
        if nginx:
            data["deployment"] = {
                "domains": [f"{slug}.example.test"],
                "nginx": {"enabled": True, "ssl": False},
            }
        service = add_service(data)
        made.append((service, environments))
        for environment in environments:
            set_variables(api, slug, environment, {"GREETING": GREETING})
        return service

    yield make
    router = worker_router(celery_worker)
    for service, environments in made:
        remove_containers(docker_client, service.slug)
        if router is not None and wants_proxy(service):
            for environment in environments:
                router.remove(service, environment)


def hostname(service, environment):
    """The Host nginx serves ``service`` under in a non-primary environment."""
    return f"{environment}.{service.domains[0]}"

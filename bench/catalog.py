"""The benchmark's services, environment, API key and images.

Runs inside the benchmark's own process after ``django.setup()``, against
the benchmark's own database. Two services run the same example image: one
served straight from its container (to compare with a bare ``docker run``)
and the example itself behind nginx (for blue-green, canary and rollback
through the proxy).
"""

import subprocess
from dataclasses import dataclass

import yaml

from bench.stack import REGISTRY, ROOT, StackError, free_port, http_ok

ENVIRONMENT = "bench"
VERSIONS = ("1.0.0", "1.1.0")
CANARY_STEPS = [10, 50]
VARIABLE_VALUE = "bench-index"


@dataclass
class Target:
    """A service the benchmark deploys, and where its traffic can be seen."""

    slug: str
    port: int
    health_path: str
    required: list
    hostname: str = ""


def example_definition(example):
    path = ROOT / "examples" / example / "service-config.yaml"
    if not path.exists():
        raise StackError(f"no example named {example!r} under examples/")
    return yaml.safe_load(path.read_text())


def image_repository(definition):
    docker = definition["docker"]
    return f"{docker['registry'].rstrip('/')}/{docker['image']}"


def ensure_images(example, repository, env):
    """Build and push the example's images unless the registry has them."""
    name = repository.split("/", 1)[1]
    if all(_tag_exists(name, version) for version in VERSIONS):
        return False
    subprocess.run(
        [str(ROOT / "scripts" / "build-example-images.sh"), example],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    return True


def _tag_exists(name, version):
    return http_ok(f"http://{REGISTRY}/v2/{name}/manifests/{version}", timeout=5)


def create_environment(canary_step_seconds, name=ENVIRONMENT):
    from deployments.choices import BackendKind, Strategy
    from deployments.models import Environment

    environment, _ = Environment.objects.update_or_create(
        name=name,
        defaults={
            "backend": BackendKind.DOCKER,
            "strategy": Strategy.RECREATE,
            "canary_steps": CANARY_STEPS,
            "canary_step_seconds": canary_step_seconds,
            "description": "deploy speed benchmark",
        },
    )
    return environment


def add_services(definition, environment, with_nginx):
    """The direct service and, when nginx runs, the example behind it."""
    direct = dict(definition)
    direct["id"] = f"{definition['id']}-direct"
    direct["configuration"] = {**definition["configuration"], "port": free_port()}
    direct["deployment"] = {"domains": [], "nginx": {"enabled": False}}
    targets = {"direct": _import(direct, environment)}
    first = {**direct, "id": f"{definition['id']}-first"}
    first["configuration"] = {**definition["configuration"], "port": free_port()}
    targets["first"] = _import(first, environment)
    if with_nginx:
        proxied = dict(definition)
        proxied["configuration"] = {
            **definition["configuration"],
            "port": free_port(),
        }
        targets["nginx"] = _import(proxied, environment)
    return targets


def _import(definition, environment):
    from deployments.traffic import get_router, wants_proxy
    from services.actions import import_text
    from services.models import Service

    report = import_text(yaml.safe_dump(definition).encode(), "bench")
    if report.errors:
        raise StackError(f"the example definition was refused: {report.errors}")
    service = Service.objects.get(slug=definition["id"])
    required = definition["configuration"].get("environment", {}).get("required", [])
    _set_variables(service, environment, required)
    hostname = ""
    if wants_proxy(service):
        hostname = get_router().hostnames(service, environment)[0]
    return Target(
        slug=service.slug,
        port=service.port,
        health_path=service.health_check_path,
        required=list(required),
        hostname=hostname,
    )


def set_required(target, environment):
    """Give ``target``'s required variables a value in ``environment``."""
    from services.models import Service

    service = Service.objects.get(slug=target.slug)
    _set_variables(service, environment, target.required)


def _set_variables(service, environment, keys):
    from deployments.actions import set_variables

    items = [{"key": key, "value": VARIABLE_VALUE, "secret": False} for key in keys]
    if items:
        set_variables(service, environment, items)


def issue_api_key():
    """A deploy-scoped key of a superuser the benchmark owns."""
    from django.contrib.auth import get_user_model

    from accounts.choices import Scope
    from accounts.models import ApiKey

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    _, raw_key = ApiKey.issue(user, "bench", scopes=[Scope.READ, Scope.DEPLOY])
    return raw_key


def image_size(client, reference):
    return client.images.get(reference).attrs.get("Size", 0)


def smallest_example(client):
    """The example whose image (first healthy version) is smallest locally."""
    from docker.errors import ImageNotFound

    sizes = {}
    for folder in sorted((ROOT / "examples").iterdir()):
        if not (folder / "service-config.yaml").exists():
            continue
        reference = f"{image_repository(example_definition(folder.name))}:1.0.0"
        try:
            sizes[folder.name] = image_size(client, reference)
        except ImageNotFound:
            continue
    return min(sizes, key=sizes.get) if sizes else "mech-search"

"""Conversion between a parsed definition and the catalog's models.

``to_fields`` flattens a definition into ``Service`` columns and endpoint
rows; ``from_service`` rebuilds the canonical definition, so that
import → export → import reproduces the same data.
"""

DEFAULT_HEALTH_CHECK = "/health"


def to_fields(definition):
    """Return ``(service_fields, endpoint_rows)`` for a parsed definition."""
    repository = definition.get("repository", {})
    docker = definition.get("docker", {})
    configuration = definition["configuration"]
    environment = configuration.get("environment", {})
    deployment = definition.get("deployment", {})
    nginx = deployment.get("nginx", {})
    process = definition.get("process", {})
    fields = {
        "name": definition["name"],
        "description": definition.get("description", ""),
        "repository_url": repository.get("url", ""),
        "repository_branch": repository.get("branch", ""),
        "docker_registry": docker.get("registry", ""),
        "docker_image": docker.get("image", ""),
        "port": configuration["port"],
        "health_check_path": configuration.get("healthCheck", DEFAULT_HEALTH_CHECK),
        "required_env": list(environment.get("required", [])),
        "optional_env": list(environment.get("optional", [])),
        "domains": list(deployment.get("domains", [])),
        "nginx_enabled": nginx.get("enabled", False),
        "nginx_ssl": nginx.get("ssl", False),
        "process_command": process.get("command", ""),
        "process_directory": process.get("directory", ""),
    }
    endpoints = [
        {
            "position": index,
            "path": item["path"],
            "method": item["method"],
            "description": item.get("description", ""),
        }
        for index, item in enumerate(definition.get("endpoints", []))
    ]
    return fields, endpoints


def from_service(service, endpoints=None):
    """Rebuild the canonical definition of a service.

    Reads ``service.endpoints`` (one query) unless ``endpoints`` is given.
    """
    if endpoints is None:
        endpoints = list(service.endpoints.all())
    definition = {"id": service.slug, "name": service.name}
    if service.description:
        definition["description"] = service.description
    if service.repository_url:
        definition["repository"] = _compact(
            url=service.repository_url, branch=service.repository_branch
        )
    if service.docker_image:
        definition["docker"] = _compact(
            registry=service.docker_registry, image=service.docker_image
        )
    definition["configuration"] = _configuration(service)
    deployment = _deployment(service)
    if deployment:
        definition["deployment"] = deployment
    if endpoints:
        definition["endpoints"] = [
            _compact(path=e.path, method=e.method, description=e.description)
            for e in endpoints
        ]
    if service.process_command:
        definition["process"] = _compact(
            command=service.process_command, directory=service.process_directory
        )
    return definition


def _configuration(service):
    configuration = {
        "port": service.port,
        "healthCheck": service.health_check_path,
    }
    environment = _compact(
        required=list(service.required_env), optional=list(service.optional_env)
    )
    if environment:
        configuration["environment"] = environment
    return configuration


def _deployment(service):
    deployment = {}
    if service.domains:
        deployment["domains"] = list(service.domains)
    if service.nginx_enabled or service.nginx_ssl:
        deployment["nginx"] = {
            "enabled": service.nginx_enabled,
            "ssl": service.nginx_ssl,
        }
    return deployment


def _compact(**values):
    return {key: value for key, value in values.items() if value not in ("", [], None)}

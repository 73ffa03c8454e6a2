"""The JSON Schema of ``service-config.yaml``.

This one document is both what ``GET /api/schemas/service-config.json``
publishes for editors and what ``services.definition`` validates files
against, so the two cannot drift apart.
"""

from services.choices import HttpMethod

SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME_PATTERN = rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$"
IMAGE_PATTERN = r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
PATH_PATTERN = r"^/[^\s]*$"

_env_names = {
    "type": "array",
    "items": {"type": "string", "pattern": ENV_NAME_PATTERN, "maxLength": 200},
    "uniqueItems": True,
    "maxItems": 200,
}

SERVICE_CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "/api/schemas/service-config.json",
    "title": "Mech Registry service definition (service-config.yaml)",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "configuration"],
    "properties": {
        "id": {
            "type": "string",
            "pattern": SLUG_PATTERN,
            "description": "Unique slug: lowercase letters, digits and hyphens.",
        },
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 10000},
        "repository": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "minLength": 1, "maxLength": 500},
                "branch": {"type": "string", "maxLength": 200},
            },
        },
        "docker": {
            "type": "object",
            "additionalProperties": False,
            "required": ["image"],
            "properties": {
                "registry": {
                    "type": "string",
                    "maxLength": 300,
                    "description": "Registry host and namespace, such as "
                    "127.0.0.1:5000/team.",
                },
                "image": {"type": "string", "pattern": IMAGE_PATTERN, "maxLength": 200},
            },
        },
        "configuration": {
            "type": "object",
            "additionalProperties": False,
            "required": ["port"],
            "properties": {
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "healthCheck": {
                    "type": "string",
                    "pattern": PATH_PATTERN,
                    "maxLength": 500,
                    "default": "/health",
                },
                "environment": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"required": _env_names, "optional": _env_names},
                },
            },
        },
        "deployment": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "domains": {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "pattern": HOSTNAME_PATTERN,
                        "maxLength": 253,
                    },
                    "uniqueItems": True,
                    "maxItems": 50,
                },
                "nginx": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "enabled": {"type": "boolean", "default": False},
                        "ssl": {"type": "boolean", "default": False},
                    },
                },
            },
        },
        "endpoints": {
            "type": "array",
            "maxItems": 500,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["path", "method"],
                "properties": {
                    "path": {
                        "type": "string",
                        "pattern": PATH_PATTERN,
                        "maxLength": 500,
                    },
                    "method": {"type": "string", "enum": HttpMethod.values},
                    "description": {"type": "string", "maxLength": 2000},
                },
            },
        },
        "process": {
            "type": "object",
            "additionalProperties": False,
            "required": ["command"],
            "description": "How the process backend runs the service on a "
            "machine without a container engine. The command reads PORT from "
            "its environment; {version} in it is replaced by the version "
            "being deployed.",
            "properties": {
                "command": {"type": "string", "minLength": 1, "maxLength": 1000},
                "directory": {
                    "type": "string",
                    "maxLength": 1000,
                    "description": "Working directory, relative to the "
                    "definition file when not absolute.",
                },
            },
        },
    },
}

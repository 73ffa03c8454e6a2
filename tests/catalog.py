"""Service definitions for tests, built as data and imported for real."""

import copy

from services.actions import import_text
from services.definition import dump_definition
from services.models import Service

SEARCH = {
    "id": "mech-search",
    "name": "Mech Search",
    "description": "Full-text search over documents",
    "repository": {
        "url": "https://git.example.test/acme/mech-search",
        "branch": "main",
    },
    "docker": {"registry": "127.0.0.1:5000/acme", "image": "mech-search"},
    "configuration": {
        "port": 3000,
        "healthCheck": "/health",
        "environment": {
            "required": ["MONGODB_URI", "API_KEY"],
            "optional": ["LOG_LEVEL", "DEBUG"],
        },
    },
    "deployment": {
        "domains": ["search.example.test"],
        "nginx": {"enabled": True, "ssl": True},
    },
    "endpoints": [
        {"path": "/api/search", "method": "POST", "description": "Run a query"}
    ],
    "process": {"command": "python3 app.py"},
}


def definition(**changes):
    """The issue's example definition with top-level ``changes`` applied."""
    result = copy.deepcopy(SEARCH)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    if "id" in changes and "deployment" in result and "deployment" not in changes:
        # Two services may not share a domain; each test service has its own.
        result["deployment"]["domains"] = [f"{result['id']}.example.test"]
    return result


def add_service(data, source="test"):
    """Import ``data`` through the real reader; return the stored service."""
    report = import_text(dump_definition(data).encode(), source)
    assert report.errors == []
    return Service.objects.get(slug=data["id"])

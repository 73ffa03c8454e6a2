"""Importing definition files with ``manage.py import_services``."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from services.actions import import_files
from services.models import Service

pytestmark = pytest.mark.django_db

VALID = """\
id: mech-search
name: Mech Search
description: Full-text search over documents
repository: {url: https://git.example.test/acme/mech-search, branch: main}
docker: {registry: registry.example.test/acme, image: mech-search}
configuration:
  port: 3000
  healthCheck: /health
  environment:
    required: [MONGODB_URI, API_KEY]
    optional: [LOG_LEVEL, DEBUG]
deployment:
  domains: [search.example.test]
  nginx: {enabled: true, ssl: true}
endpoints:
  - {path: /api/search, method: POST, description: Run a query}
"""

INVALID = """\
id: doc-reader
name: Document Reader
configuration:
  port: eighty
  healthCheck: /health
"""


def write(folder, name, text):
    path = Path(folder) / name / "service-config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run_import(*paths):
    """Run the command; return ``(exit status, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_services", *map(str, paths), stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_valid_file_creates_a_service_with_every_field(tmp_path):
    path = write(tmp_path, "search", VALID)

    status, out, err = run_import(path)

    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "created   mech-search",
        "1 created, 0 updated, 0 unchanged, 0 failed",
    ]
    service = Service.objects.get()
    assert service.slug == "mech-search"
    assert service.name == "Mech Search"
    assert service.description == "Full-text search over documents"
    assert service.repository_url == "https://git.example.test/acme/mech-search"
    assert service.repository_branch == "main"
    assert service.docker_registry == "registry.example.test/acme"
    assert service.docker_image == "mech-search"
    assert service.port == 3000
    assert service.health_check_path == "/health"
    assert service.required_env == ["MONGODB_URI", "API_KEY"]
    assert service.optional_env == ["LOG_LEVEL", "DEBUG"]
    assert service.domains == ["search.example.test"]
    assert (service.nginx_enabled, service.nginx_ssl) == (True, True)
    assert service.source_path == str(path.resolve())
    endpoints = list(service.endpoints.values_list("path", "method", "description"))
    assert endpoints == [("/api/search", "POST", "Run a query")]


def test_invalid_file_is_rejected_whole_while_its_neighbour_imports(tmp_path):
    write(tmp_path, "search", VALID)
    bad = write(tmp_path, "reader", INVALID)

    status, out, err = run_import(tmp_path)

    assert status == 1
    assert out.splitlines() == [
        "created   mech-search",
        "1 created, 0 updated, 0 unchanged, 1 failed",
    ]
    assert err.splitlines() == [
        f"error     {bad}:4: configuration.port: must be a whole number, not 'eighty'"
    ]
    assert list(Service.objects.values_list("slug", flat=True)) == ["mech-search"]


def test_invalid_update_leaves_the_stored_service_untouched(tmp_path):
    path = write(tmp_path, "search", VALID)
    run_import(path)
    before = Service.objects.values().get()
    path.write_text(
        VALID.replace("name: Mech Search", "name: Renamed").replace(
            "port: 3000", "port: 70000"
        )
    )

    status, out, err = run_import(path)

    assert status == 1
    assert "configuration.port: must be between 1 and 65535, not 70000" in err
    assert Service.objects.values().get() == before


def test_importing_the_same_file_twice_changes_nothing(tmp_path):
    path = write(tmp_path, "search", VALID)
    run_import(path)
    before = Service.objects.values().get()

    status, out, _ = run_import(path)

    assert status == 0
    assert out.splitlines() == [
        "unchanged mech-search",
        "0 created, 0 updated, 1 unchanged, 0 failed",
    ]
    assert Service.objects.values().get() == before


def test_changed_file_updates_the_service_and_its_endpoints(tmp_path):
    path = write(tmp_path, "search", VALID)
    run_import(path)
    changed = VALID.replace("port: 3000", "port: 3100").replace(
        "method: POST", "method: GET"
    )
    path.write_text(changed)

    status, out, _ = run_import(path)

    assert status == 0
    assert out.splitlines()[-1] == "0 created, 1 updated, 0 unchanged, 0 failed"
    service = Service.objects.get()
    assert service.port == 3100
    assert list(service.endpoints.values_list("method", flat=True)) == ["GET"]


def test_missing_path_is_a_command_error(tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("import_services", str(tmp_path / "absent"))

    assert Service.objects.count() == 0


def test_examples_folder_imports_cleanly():
    examples = Path(__file__).resolve().parents[2] / "examples"

    status, out, err = run_import(examples)

    assert (status, err) == (0, "")
    assert "0 failed" in out.splitlines()[-1]
    assert Service.objects.filter(slug="mech-search").exists()


def test_a_domain_another_service_uses_is_refused_whole(tmp_path):
    first = tmp_path / "first.yaml"
    first.write_text(
        "id: first\nname: First\nconfiguration: {port: 80}\n"
        "deployment: {domains: [shop.example.test]}\n"
    )
    second = tmp_path / "second.yaml"
    second.write_text(
        "id: second\nname: Second\nconfiguration: {port: 81}\n"
        "deployment: {domains: [api.example.test, SHOP.example.test]}\n"
    )

    import_files([first])
    report = import_files([second])

    (error,) = report.errors
    assert error.as_list() == [
        {
            "file": str(second),
            "line": None,
            "field": "deployment.domains",
            "message": "already used by another service: shop.example.test",
        }
    ]
    assert not Service.objects.filter(slug="second").exists()


def test_a_folder_without_definitions_is_a_command_error_naming_it(tmp_path):
    from django.core.management import CommandError

    (tmp_path / "notes.txt").write_text("not a definition")

    with pytest.raises(CommandError, match="no service-config.yaml") as error:
        call_command("import_services", str(tmp_path), stdout=io.StringIO())

    assert repr(str(tmp_path)) in str(error.value)
    assert Service.objects.count() == 0


def test_nothing_found_in_any_path_names_every_path(tmp_path):
    from django.core.management import CommandError

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()

    with pytest.raises(CommandError) as error:
        call_command("import_services", str(first), str(second))

    assert f"{str(first)!r}, {str(second)!r}" in str(error.value)


def test_an_empty_folder_beside_a_definition_still_imports(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    write(tmp_path / "defs", "search", VALID)

    status, out, err = run_import(empty, tmp_path / "defs")

    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == "1 created, 0 updated, 0 unchanged, 0 failed"

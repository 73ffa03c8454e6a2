from pathlib import Path

import pytest

from services.actions import import_files
from services.models import Service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_IDS = ["mech-llm-gateway", "mech-reader", "mech-search"]

pytestmark = pytest.mark.django_db


def test_every_example_definition_imports_cleanly():
    report = import_files([EXAMPLES])

    assert report.errors == []
    assert report.outcomes == {slug: "created" for slug in EXAMPLE_IDS}


def test_importing_the_examples_twice_changes_nothing():
    import_files([EXAMPLES])

    report = import_files([EXAMPLES])

    assert report.errors == []
    assert report.outcomes == {slug: "unchanged" for slug in EXAMPLE_IDS}


@pytest.mark.parametrize("slug", EXAMPLE_IDS)
def test_example_runs_on_both_backends_from_its_own_folder(slug):
    import_files([EXAMPLES])

    service = Service.objects.get(slug=slug)

    assert service.process_command == "python3 app.py"
    assert Path(service.source_path).parent == EXAMPLES / slug
    assert service.image_reference("1.1.0") == f"127.0.0.1:5000/examples/{slug}:1.1.0"
    assert service.health_check_path == "/health"
    assert service.required_env
    assert all(domain.endswith(".example.test") for domain in service.domains)

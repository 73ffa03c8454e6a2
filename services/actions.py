"""Catalog operations shared by the import command, the API and the admin."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from services.choices import ImportOutcome
from services.convert import to_fields
from services.definition import DefinitionError, Problem, parse_definition
from services.models import Endpoint, Service

logger = logging.getLogger(__name__)

CONFIG_FILE_NAMES = ("service-config.yaml", "service-config.yml")


@dataclass
class ImportReport:
    """What an import did, file by file."""

    outcomes: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    def count(self, outcome):
        return sum(1 for value in self.outcomes.values() if value == outcome)

    @property
    def counts(self):
        return {outcome.value: self.count(outcome) for outcome in ImportOutcome}


def find_definition_files(paths):
    """Expand files and folders into definition files, in a stable order.

    A folder contributes every ``service-config.yaml`` found below it.
    Raises ``FileNotFoundError`` for a path that does not exist.
    """
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for name in CONFIG_FILE_NAMES:
                found.extend(sorted(path.rglob(name)))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder")
    return found


def import_files(paths, actor=None):
    """Import every definition under ``paths``; one bad file spoils only itself."""
    report = ImportReport()
    for path in find_definition_files(paths):
        try:
            text = path.read_bytes()
        except OSError as exc:
            error = DefinitionError(str(path), [Problem(None, "", str(exc))])
            report.errors.append(error)
            continue
        import_text(text, str(path), report, source_path=str(path.resolve()))
    return report


def import_text(text, source, report=None, source_path=""):
    """Parse one definition and upsert it; record the outcome in ``report``."""
    report = report if report is not None else ImportReport()
    try:
        definition = parse_definition(text, source)
        check_domains(definition, source)
    except DefinitionError as error:
        logger.info("rejected definition %s", source, extra={"source": source})
        report.errors.append(error)
        return report
    service, outcome = upsert_definition(definition, source_path=source_path)
    report.outcomes[service.slug] = outcome
    return report


def check_domains(definition, source):
    """Refuse domains another service already names: its traffic is not ours.

    Known limitation: only the same name counts as taken; a wildcard such as
    ``*.example.test`` does not conflict with ``a.example.test`` here, though
    nginx would then route by the most specific name.
    """
    wanted = {d.lower() for d in definition.get("deployment", {}).get("domains", [])}
    if not wanted:
        return
    others = Service.objects.exclude(slug=definition["id"]).exclude(domains=[])
    taken = set()
    for domains in others.values_list("domains", flat=True):
        taken |= wanted & {d.lower() for d in domains}
    if taken:
        names = ", ".join(sorted(taken))
        message = f"already used by another service: {names}"
        raise DefinitionError(source, [Problem(None, "deployment.domains", message)])


@transaction.atomic
def upsert_definition(definition, source_path=""):
    """Create or update the service a parsed definition describes.

    Returns ``(service, outcome)``. Nothing is written when the definition
    matches what the catalog already holds.
    """
    fields, endpoint_rows = to_fields(definition)
    slug = definition["id"]
    service = Service.objects.select_for_update().filter(slug=slug).first()
    if service is None:
        service = Service.objects.create(slug=slug, source_path=source_path, **fields)
        _replace_endpoints(service, endpoint_rows)
        return service, ImportOutcome.CREATED

    changed = [
        name for name, value in fields.items() if getattr(service, name) != value
    ]
    same_endpoints = _endpoint_rows(service) == endpoint_rows
    if source_path and service.source_path != source_path:
        service.source_path = source_path
        service.save(update_fields=["source_path"])
    if not changed and same_endpoints:
        return service, ImportOutcome.UNCHANGED

    for name in changed:
        setattr(service, name, fields[name])
    service.save(update_fields=[*changed, "updated_at"])
    if not same_endpoints:
        _replace_endpoints(service, endpoint_rows)
    return service, ImportOutcome.UPDATED


def _endpoint_rows(service):
    return list(
        service.endpoints.order_by("position").values(
            "position", "path", "method", "description"
        )
    )


def _replace_endpoints(service, rows):
    service.endpoints.all().delete()
    Endpoint.objects.bulk_create(Endpoint(service=service, **row) for row in rows)

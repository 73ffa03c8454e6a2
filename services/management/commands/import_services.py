from django.core.management.base import BaseCommand, CommandError

from services.actions import import_files


class Command(BaseCommand):
    help = (
        "Import service definitions (service-config.yaml) from files or folders. "
        "Services are matched by id: new ones are created, changed ones updated. "
        "A file with any error is skipped whole and reported with its line and "
        "field; the others still import. Exits with status 1 if any file failed, "
        "a path does not exist, or no service-config.yaml is found at all."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "paths",
            nargs="+",
            metavar="PATH",
            help="a definition file, or a folder searched for service-config.yaml",
        )

    def handle(self, *args, paths, **options):
        try:
            report = import_files(paths)
        except FileNotFoundError as exc:
            raise CommandError(str(exc))
        if not report.outcomes and not report.errors:
            raise CommandError(
                "no service-config.yaml (or .yml) found in "
                + ", ".join(repr(path) for path in paths)
            )

        for slug, outcome in sorted(report.outcomes.items()):
            self.stdout.write(f"{outcome:<9} {slug}")
        for error in report.errors:
            for problem in error.problems:
                line = problem.describe(error.source)
                self.stderr.write(self.style.ERROR(f"error     {line}"))
        counts = report.counts
        summary = (
            f"{counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged, {len(report.errors)} failed"
        )
        self.stdout.write(self.style.SUCCESS(summary) if not report.errors else summary)
        if report.errors:
            raise SystemExit(1)

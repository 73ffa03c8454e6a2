"""Set a service's environment variables for one environment.

Values are secrets as often as not, so this command reports which keys it
set and never what they were set to.
"""

import os
import re

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from deployments.actions import set_variables
from deployments.choices import Trigger
from deployments.models import ConfigValue, Environment
from services.models import Service
from services.schema import ENV_NAME_PATTERN

KEY_RE = re.compile(ENV_NAME_PATTERN)


def parse_assignment(text):
    """``KEY=VALUE`` → (KEY, VALUE); a bare ``KEY`` reads this command's env."""
    key, sep, value = text.partition("=")
    if not KEY_RE.match(key):
        raise CommandError(
            f"{key!r} is not a variable name: use letters, digits and "
            "underscores, not starting with a digit"
        )
    if sep:
        return key, value
    if key not in os.environ:
        raise CommandError(f"{key} has no '=VALUE' and is not set in the environment")
    return key, os.environ[key]


class Command(BaseCommand):
    help = (
        "Set environment variables of SERVICE in ENVIRONMENT, creating or "
        "replacing each key. Prints the keys it set, never their values. A bare "
        "KEY (without '=') takes its value from this command's own environment, "
        "which keeps the value out of the process list and shell history. A key "
        "the service does not declare is stored but not injected at deploy "
        "time; a warning says so. Values are stored encrypted and are secret "
        "unless --public is given. With --keep-existing, a key that already has a "
        "stored value keeps it and is reported as 'kept'."
    )

    def add_arguments(self, parser):
        parser.add_argument("service", metavar="SERVICE", help="the service's id")
        parser.add_argument(
            "environment", metavar="ENVIRONMENT", help="an environment's name"
        )
        parser.add_argument(
            "assignments",
            nargs="+",
            metavar="KEY=VALUE",
            help="a variable and its value, or a bare KEY read from the environment",
        )
        parser.add_argument(
            "--public",
            action="store_true",
            help="mark the values as not secret, so the API and the admin show "
            "them; by default values are secret and write-only",
        )
        parser.add_argument(
            "--keep-existing",
            action="store_true",
            help="set only the keys that have no stored value yet in ENVIRONMENT "
            "(an empty value counts as set); a stored key keeps its value and "
            "its secret flag",
        )

    def handle(self, *args, service, environment, assignments, **options):
        target = Service.objects.filter(slug=service).first()
        if target is None:
            raise CommandError(f"no service with id {service!r}")
        env = Environment.objects.filter(name=environment).first()
        if env is None:
            names = ", ".join(Environment.objects.values_list("name", flat=True))
            raise CommandError(f"no environment {environment!r} (known: {names})")
        values = dict(parse_assignment(text) for text in assignments)

        outcomes = self._store(
            target,
            env,
            values,
            secret=not options["public"],
            keep_existing=options["keep_existing"],
        )

        declared = set(target.required_env) | set(target.optional_env)
        for key, outcome in outcomes.items():
            self.stdout.write(f"{outcome:<9} {key}")
            if key not in declared:
                self.stderr.write(
                    self.style.WARNING(
                        f"warning: {service} does not declare {key}; "
                        "it will not be passed to the service"
                    )
                )
        written = sum(outcome != "kept" for outcome in outcomes.values())
        self.stdout.write(
            self.style.SUCCESS(f"{written} key(s) set for {service} in {env}")
        )

    @transaction.atomic
    def _store(self, service, environment, values, secret, keep_existing=False):
        rows = ConfigValue.objects.select_for_update().filter(
            service=service, environment=environment, key__in=list(values)
        )
        before = {row.key: row.value for row in rows}
        # Known limitation: a lock cannot hold a row that does not exist yet, so
        # two --keep-existing runs at the same moment may both set a missing key.
        to_write = {
            key: value
            for key, value in values.items()
            if not (keep_existing and key in before)
        }

        # With nothing to write there is no change, so no ledger entry either.
        if to_write:
            set_variables(
                service,
                environment,
                [{"key": k, "value": v, "secret": secret} for k, v in to_write.items()],
                trigger=Trigger.CLI,
            )

        outcomes = {}
        for key, value in values.items():
            if key not in to_write:
                outcomes[key] = "kept"
            elif key not in before:
                outcomes[key] = "created"
            else:
                outcomes[key] = "unchanged" if before[key] == value else "updated"
        return outcomes

import argparse
import math
import time

from django.core.management.base import BaseCommand, CommandError

from deployments.actions import request_deployment, rollback_to
from deployments.choices import DeploymentStatus, Strategy, Trigger
from deployments.models import Deployment, Environment
from registry.audit import audit_context
from registry.choices import Interface
from registry.exceptions import RegistryError
from services.models import Service

POLL_SECONDS = 0.5


def positive_seconds(text):
    """Parse --wait: a finite number of seconds greater than zero."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds above 0, not {text!r}"
        )
    return seconds


class Command(BaseCommand):
    help = (
        "Deploy a version (or an image digest sha256:…) of a service to an "
        "environment, as the API does, and optionally wait for the result. "
        "A worker must be running to carry it out. With --rollback the version "
        "must have served in that environment before, and canary steps are "
        "skipped. Exit status: 0 once the deployment is accepted (with --wait: "
        "once it succeeds); 1 when the service or environment is unknown, the "
        "deployment is refused, or, with --wait, it fails or is still unfinished "
        "after SECONDS (it goes on in the worker); 2 for invalid arguments."
    )

    def add_arguments(self, parser):
        parser.add_argument("service", help="service id")
        parser.add_argument("environment", help="environment name, e.g. staging")
        parser.add_argument("version", help="semantic version or sha256:… digest")
        parser.add_argument("--strategy", choices=Strategy.values)
        parser.add_argument("--reason", default="", help="recorded in the ledger")
        parser.add_argument(
            "--override-bad-release",
            action="store_true",
            help="deploy a release marked bad; the override is recorded",
        )
        parser.add_argument(
            "--rollback", action="store_true", help="roll back to this version"
        )
        parser.add_argument(
            "--queue",
            action="store_true",
            help="wait behind an active deployment instead of refusing",
        )
        parser.add_argument(
            "--wait",
            type=positive_seconds,
            metavar="SECONDS",
            help="wait up to SECONDS for the deployment to finish, printing its log",
        )

    def handle(self, *args, **options):
        service = self._get(Service, slug=options["service"])
        environment = self._get(Environment, name=options["environment"])
        with audit_context(Interface.COMMAND):
            try:
                deployment = self._request(service, environment, options)
            except RegistryError as exc:
                raise CommandError(f"{exc.code}: {exc.message}")
        self.stdout.write(
            f"deployment #{deployment.pk}: {deployment.kind} of {service} "
            f"{deployment.version} to {environment} is {deployment.status}"
        )
        if options["wait"] is not None:
            self._follow(deployment, options["wait"])

    @staticmethod
    def _get(model, **lookup):
        found = model.objects.filter(**lookup).first()
        if found is None:
            (value,) = lookup.values()
            raise CommandError(f"no {model._meta.verbose_name} named {value!r}")
        return found

    @staticmethod
    def _request(service, environment, options):
        if options["rollback"]:
            return rollback_to(
                service,
                environment,
                options["version"],
                trigger=Trigger.CLI,
                reason=options["reason"],
            )
        return request_deployment(
            service,
            environment,
            options["version"],
            trigger=Trigger.CLI,
            queue=options["queue"],
            strategy=options["strategy"],
            override_bad_release=options["override_bad_release"],
            reason=options["reason"],
        )

    def _follow(self, deployment, seconds):
        deadline = time.monotonic() + seconds
        seen = 0
        while True:
            # Status first, then lines: no line written before the end is missed.
            deployment = Deployment.objects.get(pk=deployment.pk)
            for line in deployment.log_lines.filter(seq__gt=seen).order_by("seq"):
                self.stdout.write(f"  {line.message}")
                seen = line.seq
            if deployment.is_finished:
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"deployment #{deployment.pk} is still {deployment.status} "
                    f"after {seconds:g}s; it goes on in the worker"
                )
            time.sleep(POLL_SECONDS)
        if deployment.status != DeploymentStatus.SUCCEEDED:
            raise CommandError(
                f"deployment #{deployment.pk} failed: {deployment.error}"
            )
        self.stdout.write(self.style.SUCCESS(f"deployment #{deployment.pk} succeeded"))

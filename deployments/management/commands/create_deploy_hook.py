from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.permissions import check_can_deploy
from deployments.hooks import issue_hook
from deployments.models import Environment
from registry.audit import audit_context
from registry.choices import Interface
from registry.exceptions import RegistryError
from services.models import Service


class Command(BaseCommand):
    help = (
        "Create a deploy hook for one service and environment and print its token "
        "once, as the last line. A CI job deploys with "
        "`curl -X POST -H 'Authorization: Bearer <token>' -H 'Content-Type: "
        'application/json\' -d \'{"version": "1.2.3"}\' '
        ".../api/hooks/deploy`; the deploy runs with USER's permissions, which "
        "must allow it now."
    )

    def add_arguments(self, parser):
        parser.add_argument("service", help="service id")
        parser.add_argument("environment", help="environment name")
        parser.add_argument("--user", required=True, help="whose permissions it uses")
        parser.add_argument("--name", default="ci", help="a label (default: ci)")

    def handle(self, *args, service, environment, user, name, **options):
        found_service = Service.objects.filter(slug=service).first()
        found_environment = Environment.objects.filter(name=environment).first()
        owner = get_user_model().objects.filter(username=user).first()
        for value, label, given in [
            (found_service, "service", service),
            (found_environment, "environment", environment),
            (owner, "user", user),
        ]:
            if value is None:
                raise CommandError(f"no such {label}: {given}")
        try:
            check_can_deploy(owner, found_service, found_environment)
        except RegistryError as exc:
            raise CommandError(f"{user} may not deploy there: {exc.message}")

        with audit_context(Interface.COMMAND):
            hook, token = issue_hook(found_service, found_environment, owner, name)
        self.stdout.write(
            f"deploy hook {hook.name!r} for {found_service} → {found_environment}; "
            "the token is shown once:"
        )
        self.stdout.write(token)

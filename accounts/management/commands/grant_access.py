from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.choices import Action
from accounts.permissions import grant, revoke, team
from registry.audit import audit_context
from registry.choices import Interface
from services.models import Service


class Command(BaseCommand):
    help = (
        "Give a user or a team (group) actions on services, or take them back "
        "with --revoke. Actions: view, change, deploy, manage_secrets. What a "
        "person may finally do is also capped by their role (viewer, developer, "
        "maintainer, admin): see `manage.py create_roles`. A team named with "
        "--team is created if it does not exist."
    )

    def add_arguments(self, parser):
        parser.add_argument("services", nargs="+", metavar="SERVICE", help="service id")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="username")
        who.add_argument("--team", help="group name, created on first use")
        parser.add_argument(
            "--action",
            action="append",
            choices=Action.values,
            dest="actions",
            help="repeat for several; default: view",
        )
        parser.add_argument(
            "--revoke",
            action="store_true",
            dest="take_back",
            help="take the actions back instead",
        )

    def handle(self, *args, services, user, team, actions, take_back, **options):
        actions = actions or [Action.VIEW]
        who, label = self._who(user, team)
        found = {s.slug: s for s in Service.objects.filter(slug__in=services)}
        unknown = [slug for slug in services if slug not in found]
        if unknown:
            raise CommandError(f"no such service: {', '.join(unknown)}")

        change = revoke if take_back else grant
        with audit_context(Interface.COMMAND):
            for slug in services:
                change(found[slug], who, actions)
        verb = "revoked from" if take_back else "granted to"
        joined = ", ".join(actions)
        for slug in services:
            self.stdout.write(f"{joined} on {slug} {verb} {label}")

    @staticmethod
    def _who(username, team_name):
        if username is None:
            return team(team_name), f"team {team_name}"
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no such user: {username}")
        return user, username

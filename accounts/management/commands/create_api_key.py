from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.choices import Scope
from accounts.models import ApiKey
from registry.audit import audit_context
from registry.choices import Interface
from services.models import Service


def _expiry(value):
    """``30d``, ``12h`` or an ISO 8601 date-time; None for never.

    A moment that is not in the future is refused: the key would be born
    expired.
    """
    if not value:
        return None
    units = {"d": "days", "h": "hours"}
    try:
        if value[-1:] in units and value[:-1].isdigit():
            span = timedelta(**{units[value[-1]]: int(value[:-1])})
            moment = timezone.now() + span
        else:
            moment = parse_datetime(value)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise CommandError(f"--expires {value!r}: use 30d, 12h or an ISO date-time")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment <= timezone.now():
        raise CommandError(
            f"--expires {value!r} is not in the future; the key would already "
            "be expired. Give a later date-time or a duration such as 30d."
        )
    return moment


class Command(BaseCommand):
    help = (
        "Issue an API key for USER and print it. The key is printed once, as "
        "the last line of output, and only its hash is stored. It acts as USER, "
        "narrowed to the given scopes and services: it never grants more than "
        "USER has."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", metavar="USER", help="the key's owner")
        parser.add_argument("--name", default="", help="a label for the key")
        parser.add_argument(
            "--scope",
            action="append",
            choices=Scope.values,
            dest="scopes",
            help="read (default), deploy or admin; repeat for several",
        )
        parser.add_argument(
            "--service",
            action="append",
            dest="services",
            default=[],
            metavar="SERVICE_ID",
            help="limit the key to this service; repeat for several",
        )
        parser.add_argument(
            "--expires",
            default="",
            help="30d, 12h or an ISO date-time; default: never",
        )

    def handle(self, *args, username, name, scopes, services, expires, **opts):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        found = list(Service.objects.filter(slug__in=services))
        missing = sorted(set(services) - {s.slug for s in found})
        if missing:
            raise CommandError(f"no such services: {', '.join(missing)}")

        with audit_context(Interface.COMMAND, actor_name="create_api_key"):
            api_key, raw_key = ApiKey.issue(
                user,
                name or f"{username} key",
                scopes=scopes or [Scope.READ],
                services=found,
                expires_at=_expiry(expires),
            )

        expiry = f"{api_key.expires_at:%Y-%m-%d %H:%M %Z}" if expires else "never"
        self.stdout.write(
            f"Key {api_key.name!r} for {username}, scopes "
            f"{', '.join(api_key.scopes)}, expires {expiry}. "
            "Store it now; it is not shown again:"
        )
        self.stdout.write(raw_key)

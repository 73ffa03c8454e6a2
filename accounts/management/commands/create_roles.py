from django.core.management.base import BaseCommand

from accounts.roles import ensure_roles
from registry.audit import audit_context
from registry.choices import Interface


class Command(BaseCommand):
    help = (
        "Create the viewer, developer, maintainer and admin groups and set the "
        "permissions each role carries. Safe to run again: existing groups are "
        "kept and their permissions reset to the role's. Also runs after every "
        "migrate."
    )

    def handle(self, *args, **options):
        with audit_context(Interface.COMMAND, actor_name="create_roles"):
            created = ensure_roles()
        if created:
            self.stdout.write(f"created roles: {', '.join(created)}")
        else:
            self.stdout.write("roles already exist; permissions brought up to date")

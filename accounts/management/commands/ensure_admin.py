"""Create the local superuser once, with a random password shown once."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

PASSWORD_BYTES = 12


class Command(BaseCommand):
    help = (
        "Create a superuser (default: admin) with a random password if no user "
        "of that name exists, and print the password once. An existing user is "
        "left untouched; the command then says how to set a new password."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="", help="the new user's e-mail")

    def handle(self, *args, username, email, **options):
        User = get_user_model()
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        with transaction.atomic():
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": email, "is_staff": True, "is_superuser": True},
            )
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])

        if not created:
            kind = "superuser" if user.is_superuser else "user (not a superuser)"
            self.stdout.write(
                f"The {kind} {username!r} already exists; its password is "
                "unchanged. To set a new one run:\n"
                f"  .venv/bin/python manage.py changepassword {username}"
            )
            return
        self.stdout.write(
            self.style.SUCCESS(f"Created the superuser {username!r}.")
            + "\nLog in to the admin with:\n"
            f"  username: {username}\n"
            f"  password: {password}\n"
            "This password is shown only now. To change it run:\n"
            f"  .venv/bin/python manage.py changepassword {username}"
        )

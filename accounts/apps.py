from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from accounts.roles import ensure_roles

    ensure_roles()


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts import schema  # noqa: F401  (registers the extension)

        # Roles get their permissions once every app's permissions exist.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="sync_roles")

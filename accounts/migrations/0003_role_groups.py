from django.db import migrations

ROLES = ["viewer", "developer", "maintainer", "admin"]


def create_groups(apps, schema_editor):
    # Permissions are attached after migrate by accounts.roles.ensure_roles
    # (a post_migrate handler), once every app's permissions exist.
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_key_scopes_and_capability"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]

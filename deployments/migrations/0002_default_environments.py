from django.db import migrations

DEFAULTS = [
    ("staging", False, "Pre-production; any developer may deploy."),
    ("production", True, "Serves users; deploying needs the protected permission."),
]


def create_defaults(apps, schema_editor):
    Environment = apps.get_model("deployments", "Environment")
    for name, protected, description in DEFAULTS:
        Environment.objects.get_or_create(
            name=name,
            defaults={"protected": protected, "description": description},
        )


class Migration(migrations.Migration):
    dependencies = [("deployments", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]

"""The four roles and the model permissions each one carries.

A role's permissions say which *kinds* of action its members may take; they
are a ceiling, not a grant over every service. Which services a member may
act on comes from per-service object permissions (see
``accounts.permissions``). The admin role is the exception: it may do
everything, on every service.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.choices import Role

VIEWER = [
    "services.view_service",
    "services.view_endpoint",
    "deployments.view_deployment",
    "deployments.view_environment",
    "health.view_checkresult",
]
DEVELOPER = [*VIEWER, "services.deploy_service", "deployments.add_deployment"]
MAINTAINER = [
    *DEVELOPER,
    "services.add_service",
    "services.change_service",
    "services.manage_secrets_service",
    "deployments.view_configvalue",
    "deployments.add_configvalue",
    "deployments.change_configvalue",
    "deployments.delete_configvalue",
    "accounts.deploy_protected_environment",
]

ROLE_PERMISSIONS = {
    Role.VIEWER: VIEWER,
    Role.DEVELOPER: DEVELOPER,
    Role.MAINTAINER: MAINTAINER,
}


def _permissions(names):
    wanted = {tuple(name.split(".", 1)) for name in names}
    found = Permission.objects.filter(
        content_type__app_label__in={app for app, _ in wanted}
    ).select_related("content_type")
    return [p for p in found if (p.content_type.app_label, p.codename) in wanted]


@transaction.atomic
def ensure_roles():
    """Create the role groups and set their permissions; safe to repeat.

    Returns the names of the groups created by this call.
    """
    # Permissions are normally made after migrate; make sure they exist now.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0)

    created = []
    for role in Role:
        group, was_created = Group.objects.get_or_create(name=role.value)
        if was_created:
            created.append(role.value)
        if role == Role.ADMIN:
            group.permissions.set(Permission.objects.all())
        else:
            group.permissions.set(_permissions(ROLE_PERMISSIONS[role]))
    return created

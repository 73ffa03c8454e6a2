"""Who may do what to which service.

The rule, in one place:

* A superuser, or a member of the ``admin`` role, may do everything.
* Anyone else may take an action on a service when **both** hold:
  their role grants the kind of action (a model permission such as
  ``services.deploy_service``, given to the role's group), and they hold the
  object permission for that action on that very service (django-guardian),
  granted to them or to a group (a team) they belong to.
* Deploying to a protected environment also needs
  ``accounts.deploy_protected_environment``, which only maintainers have.
* A request made with an API key is narrowed further by the key's scopes and,
  if the key lists services, to those services.

Deployments, config values and check results follow the service they belong
to. Environments are readable by every role. A service the caller may not
view is treated as if it did not exist (404); one they may view but not act
on answers 403.
"""

from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from accounts.choices import Action, Role
from registry.exceptions import NotFound, PermissionDenied

SERVICE_PERMISSIONS = {
    Action.VIEW: "services.view_service",
    Action.CHANGE: "services.change_service",
    Action.DEPLOY: "services.deploy_service",
    Action.MANAGE_SECRETS: "services.manage_secrets_service",
}
PROTECTED_PERMISSION = "accounts.deploy_protected_environment"

# How each restricted model reaches its service; "" is the service itself.
SERVICE_PATHS = {
    ("services", "service"): "",
    ("services", "endpoint"): "service",
    ("deployments", "deployment"): "service",
    ("deployments", "configvalue"): "service",
    ("deployments", "release"): "service",
    ("deployments", "ledgerentry"): "service",
    ("deployments", "deployhook"): "service",
    ("health", "checkresult"): "service",
}
# Models every role may read whole.
OPEN_MODELS = {("deployments", "environment")}


def api_key_of(user):
    """The API key the user authenticated with on this request, if any."""
    return getattr(user, "api_key_in_use", None)


def is_admin(user, needs_key_scope=True):
    """Superuser or admin role; a key must also carry the admin scope."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    key = api_key_of(user)
    if needs_key_scope and key is not None and not key.has_admin_scope:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=Role.ADMIN).exists()


def services_for(user, action=Action.VIEW):
    """The services ``user`` may take ``action`` on, as a queryset."""
    from services.models import Service

    if user is None or not user.is_authenticated or not user.is_active:
        return Service.objects.none()
    key = api_key_of(user)
    if key is not None and not key.allows(action):
        return Service.objects.none()

    if is_admin(user, needs_key_scope=False):
        services = Service.objects.all()
    elif not user.has_perm(SERVICE_PERMISSIONS[action]):
        return Service.objects.none()
    else:
        services = get_objects_for_user(
            user,
            SERVICE_PERMISSIONS[action],
            klass=Service,
            with_superuser=False,
            accept_global_perms=False,
        )
    if key is not None and key.limit_to_services:
        services = services.filter(pk__in=key.services.values("pk"))
    return services


def restrict(queryset, user, action=Action.VIEW):
    """Narrow ``queryset`` to the rows ``user`` may take ``action`` on.

    Every API view applies this to every request. A model with no rule here
    raises ``LookupError``, so a new endpoint cannot leak by omission.
    """
    meta = queryset.model._meta
    label = (meta.app_label, meta.model_name)
    if label in OPEN_MODELS:
        visible = user is not None and user.is_authenticated and user.is_active
        return queryset if visible else queryset.none()
    if label not in SERVICE_PATHS:
        raise LookupError(f"no permission rule for {meta.label}")

    path = SERVICE_PATHS[label]
    allowed = services_for(user, action).values("pk")
    return queryset.filter(**{f"{path}__in" if path else "pk__in": allowed})


def can(user, action, service):
    return services_for(user, action).filter(pk=service.pk).exists()


def can_add_service(user):
    key = api_key_of(user)
    if key is not None and not key.allows(Action.CHANGE):
        return False
    if is_admin(user, needs_key_scope=False):
        return True
    return user.is_authenticated and user.has_perm("services.add_service")


def can_deploy_protected(user):
    key = api_key_of(user)
    if key is not None and not key.allows(Action.DEPLOY):
        return False
    return is_admin(user, needs_key_scope=False) or user.has_perm(PROTECTED_PERMISSION)


def check_can(user, action, service):
    """Raise 404 if ``service`` is invisible to ``user``, 403 if not allowed."""
    if not can(user, Action.VIEW, service):
        raise NotFound(f"service {service.slug!r} not found")
    if action != Action.VIEW and not can(user, action, service):
        raise PermissionDenied(f"you may not {action.label.lower()} {service.slug}")


def check_can_deploy(user, service, environment):
    """Refuse a deployment the user may not request.

    ``user=None`` means the command line, which is trusted.
    """
    if user is None:
        return
    check_can(user, Action.DEPLOY, service)
    if environment.protected and not can_deploy_protected(user):
        raise PermissionDenied(
            f"{environment.name} is protected: deploying there needs the "
            "protected-environment permission",
            code="protected_environment",
        )


def grant(service, who, actions):
    """Give a user or a group (a team) object permissions on ``service``."""
    for action in actions:
        codename = SERVICE_PERMISSIONS[Action(action)]
        assign_perm(codename, who, service)


def revoke(service, who, actions):
    for action in actions:
        remove_perm(SERVICE_PERMISSIONS[Action(action)], who, service)


def team(name):
    """The group used as a team, created on first use."""
    return Group.objects.get_or_create(name=name)[0]

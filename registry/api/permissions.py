"""Request-level and object-level checks shared by every API view.

Rows a caller may not read never reach a view: ``RestrictedViewSet`` narrows
every queryset with ``accounts.permissions.restrict``, so lists, counts,
search and filters only see readable rows and a detail URL for anything
else answers 404. What is left here is the 403 for a readable object the
caller may not act on, and the admin-only endpoints.
"""

from rest_framework.permissions import BasePermission

from accounts.choices import Action
from accounts.permissions import can, is_admin


def _service_of(obj):
    return obj if obj._meta.label == "services.Service" else obj.service


class ActionPermission(BasePermission):
    """Checks the view's ``action_permissions`` on the object's service.

    A view maps its DRF action names to an ``Action``; actions it does not
    name only need the object to be readable.
    """

    message = "You may not do this to this service."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        action = getattr(view, "action_permissions", {}).get(view.action)
        if action is None or action == Action.VIEW:
            return True
        return can(request.user, action, _service_of(obj))


class IsRegistryAdmin(BasePermission):
    """Superusers and the admin role; a key needs the admin scope."""

    message = "Only registry admins may do this."

    def has_permission(self, request, view):
        return is_admin(request.user)

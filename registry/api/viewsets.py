"""The base every API viewset builds on, so permissions apply once."""

from django.db import transaction
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied

from accounts.choices import Action
from accounts.permissions import restrict
from registry.api.permissions import ActionPermission


class RestrictedViewSet(viewsets.GenericViewSet):
    """Narrows every queryset to what the caller may read.

    ``filter_queryset`` is the one door both lists and ``get_object`` pass
    through, so restricting there covers pagination counts, search and
    filters as well. Writes run in a transaction and are checked again
    afterwards, so a change cannot move an object out of the caller's reach.
    """

    permission_classes = [ActionPermission]
    action_permissions = {}

    def filter_queryset(self, queryset):
        queryset = restrict(queryset, self.request.user, Action.VIEW)
        return super().filter_queryset(queryset)

    def perform_create(self, serializer):
        with transaction.atomic():
            instance = serializer.save()
            self.check_still_permitted(instance)

    def perform_update(self, serializer):
        with transaction.atomic():
            instance = serializer.save()
            self.check_still_permitted(instance)

    def check_still_permitted(self, instance, action=None):
        """Raise 403 (rolling back the write) if ``instance`` left our reach."""
        action = action or self.action_permissions.get(self.action, Action.VIEW)
        model = type(instance)
        allowed = restrict(model._default_manager.all(), self.request.user, action)
        if not allowed.filter(pk=instance.pk).exists():
            raise PermissionDenied("The result would be outside your permissions.")

import django_filters

from registry.choices import AuditAction, Interface
from registry.models import AuditEntry


class AuditEntryFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_name")
    interface = django_filters.ChoiceFilter(choices=Interface.choices)
    action = django_filters.ChoiceFilter(choices=AuditAction.choices)
    objectType = django_filters.CharFilter(method="filter_object_type")
    objectId = django_filters.CharFilter(field_name="object_id")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = []

    def filter_object_type(self, queryset, name, value):
        """``app_label.model``, e.g. ``services.service``."""
        app_label, _, model = value.lower().partition(".")
        return queryset.filter(
            content_type__app_label=app_label, content_type__model=model
        )

import django_filters

from deployments.choices import DeploymentStatus
from deployments.models import Deployment


class DeploymentFilterSet(django_filters.FilterSet):
    serviceId = django_filters.CharFilter(field_name="service__slug")
    environment = django_filters.CharFilter(field_name="environment__name")
    status = django_filters.ChoiceFilter(choices=DeploymentStatus.choices)
    isCurrent = django_filters.BooleanFilter(field_name="is_current")

    class Meta:
        model = Deployment
        fields = []

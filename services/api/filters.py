import django_filters

from services.models import Service


class ServiceFilterSet(django_filters.FilterSet):
    nginxEnabled = django_filters.BooleanFilter(field_name="nginx_enabled")
    hasImage = django_filters.BooleanFilter(method="_has_image")

    class Meta:
        model = Service
        fields = []

    def _has_image(self, queryset, name, value):
        if value:
            return queryset.exclude(docker_image="")
        return queryset.filter(docker_image="")

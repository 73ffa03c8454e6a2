from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from accounts.permissions import restrict
from deployments.models import Environment
from registry import discovery
from registry.api.filters import AuditEntryFilterSet
from registry.api.permissions import IsRegistryAdmin
from registry.api.serializers import AuditEntrySerializer
from registry.models import AuditEntry
from services.models import Service


class ApiRootView(APIView):
    """Where everything in the API starts."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request):
        def link(name, **kwargs):
            return reverse(name, request=request, kwargs=kwargs or None)

        return Response(
            {
                "services": link("service-list"),
                "deployments": link("deployment-list"),
                "environments": link("environment-list"),
                "health": link("health-overview"),
                "discovery": link("discovery"),
                "audit": link("audit-list"),
                "serviceConfigSchema": link("service-config-schema"),
                "token": link("token-obtain"),
                "tokenRefresh": link("token-refresh"),
                "schema": link("schema"),
                "docs": link("docs"),
            }
        )


class AuditEntryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The audit log, read-only, for registry admins only.

    Entries can name any object and carry before/after values, so reading
    them needs the admin role (and a key with the admin scope).
    """

    queryset = AuditEntry.objects.select_related("content_type")
    serializer_class = AuditEntrySerializer
    permission_classes = [IsRegistryAdmin]
    filterset_class = AuditEntryFilterSet
    search_fields = ["object_repr", "actor_name", "object_id", "api_key_name"]
    ordering_fields = ["created_at"]


class DiscoveryEndpointSerializer(serializers.Serializer):
    path = serializers.CharField()
    method = serializers.CharField()
    description = serializers.CharField()


class DiscoverySerializer(serializers.Serializer):
    serviceId = serializers.CharField()
    environment = serializers.CharField()
    version = serializers.CharField()
    address = serializers.CharField()
    url = serializers.CharField()
    hostnames = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField(help_text="up, down, or unknown before a check")
    checkedAt = serializers.DateTimeField(allow_null=True)
    endpoints = DiscoveryEndpointSerializer(many=True)


class DiscoveryView(APIView):
    """Where the services the caller may see run now, and their health."""

    @extend_schema(
        parameters=[
            OpenApiParameter("serviceId", str, description="Only this service."),
            OpenApiParameter("environment", str, description="Only this environment."),
            OpenApiParameter(
                "healthy", bool, description="Only instances whose last check passed."
            ),
        ],
        responses=DiscoverySerializer(many=True),
    )
    def get(self, request):
        services = restrict(Service.objects.all(), request.user)
        service_id = request.query_params.get("serviceId")
        if service_id:
            services = services.filter(slug=service_id)
        environment = None
        name = request.query_params.get("environment")
        if name:
            environment = get_object_or_404(Environment.objects.all(), name=name)
        healthy = request.query_params.get("healthy", "").lower() in ("1", "true")
        found = discovery.instances(services, environment, healthy_only=healthy)
        return Response(DiscoverySerializer(found, many=True).data)

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from registry.api.filters import AuditEntryFilterSet
from registry.api.permissions import IsRegistryAdmin
from registry.api.serializers import AuditEntrySerializer
from registry.models import AuditEntry


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

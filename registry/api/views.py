from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView


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
                "serviceConfigSchema": link("service-config-schema"),
                "token": link("token-obtain"),
                "tokenRefresh": link("token-refresh"),
                "schema": link("schema"),
                "docs": link("docs"),
            }
        )

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from services.actions import import_text
from services.api.filters import ServiceFilterSet
from services.api.serializers import ServiceSerializer
from services.convert import from_service
from services.definition import dump_definition
from services.models import Service
from services.schema import SERVICE_CONFIG_SCHEMA

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")


class YamlParser(parsers.BaseParser):
    """Hands the raw body to the definition reader, which does its own parsing."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


class TextYamlParser(YamlParser):
    media_type = "text/*"


class ServiceViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ServiceSerializer
    lookup_field = "slug"
    lookup_url_kwarg = "id"
    filterset_class = ServiceFilterSet
    search_fields = ["slug", "name", "description"]
    ordering_fields = ["slug", "name", "created_at", "updated_at"]

    def get_queryset(self):
        return Service.objects.prefetch_related("endpoints")

    @extend_schema(
        request={"application/yaml": OpenApiTypes.STR},
        responses={
            200: OpenApiTypes.OBJECT,
            201: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
        },
        description="Create or update one service from a service-config.yaml body.",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[YamlParser, TextYamlParser],
    )
    def import_definition(self, request):
        body = request.data
        if not isinstance(body, bytes):
            body = b""
        report = import_text(body, "request body")
        if report.errors:
            error = report.errors[0]
            return Response(
                {
                    "code": "invalid_definition",
                    "message": str(error),
                    "errors": error.as_list(),
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        ((slug, outcome),) = report.outcomes.items()
        service = Service.objects.prefetch_related("endpoints").get(slug=slug)
        data = {"outcome": outcome, "service": self._serialize(service)}
        code = status.HTTP_201_CREATED if outcome == "created" else status.HTTP_200_OK
        return Response(data, status=code)

    def _serialize(self, service):
        return ServiceSerializer(service, context=self.get_serializer_context()).data

    @extend_schema(
        responses={(200, "application/yaml"): OpenApiResponse(OpenApiTypes.STR)},
        description="The service's definition as service-config.yaml.",
    )
    @action(detail=True, methods=["get"], url_path="config")
    def config(self, request, id=None):
        service = self.get_object()
        text = dump_definition(from_service(service))
        return HttpResponse(text, content_type="application/yaml; charset=utf-8")


@extend_schema(exclude=True)
def service_config_schema(request):
    import json

    body = json.dumps(SERVICE_CONFIG_SCHEMA, indent=2)
    return HttpResponse(body, content_type="application/schema+json")

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, parsers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.choices import Action
from accounts.permissions import (
    can,
    can_add_service,
    check_can,
    grant,
    is_admin,
)
from registry.api.viewsets import RestrictedViewSet
from registry.exceptions import NotFound, PermissionDenied
from services.actions import check_domains, upsert_definition
from services.api.filters import ServiceFilterSet
from services.api.serializers import ServiceSerializer
from services.convert import from_service
from services.definition import DefinitionError, dump_definition, parse_definition
from services.models import Service
from services.schema import SERVICE_CONFIG_SCHEMA


class YamlParser(parsers.BaseParser):
    """Hands the raw body to the definition reader, which does its own parsing."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return b""
        # One byte past the limit is enough for the reader to refuse it.
        return stream.read(settings.MECH["MAX_CONFIG_BYTES"] + 1)


class TextYamlParser(YamlParser):
    media_type = "text/*"


class ServiceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet
):
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
        try:
            definition = parse_definition(body, "request body")
            check_domains(definition, "request body")
        except DefinitionError as error:
            return Response(
                {
                    "code": "invalid_definition",
                    "message": str(error),
                    "errors": error.as_list(),
                },
                status=status.HTTP_400_BAD_REQUEST,
            )

        self._check_can_import(request.user, definition["id"])
        self._check_can_set_command(request.user, definition)
        with transaction.atomic():
            service, outcome = upsert_definition(definition)
            if outcome == "created":
                grant(service, request.user, list(Action))
            self.check_still_permitted(service, Action.CHANGE)

        service = Service.objects.prefetch_related("endpoints").get(pk=service.pk)
        data = {"outcome": outcome, "service": self._serialize(service)}
        code = status.HTTP_201_CREATED if outcome == "created" else status.HTTP_200_OK
        return Response(data, status=code)

    @staticmethod
    def _check_can_import(user, slug):
        """Changing needs ``change`` on the service; creating needs the role.

        Callers who may not create services get 403 whether or not the slug
        exists, so they cannot probe for services they cannot see.
        """
        existing = Service.objects.filter(slug=slug).first()
        if existing is not None and can(user, Action.VIEW, existing):
            check_can(user, Action.CHANGE, existing)
            return
        if not can_add_service(user):
            raise PermissionDenied("you may not create services")
        if existing is not None:
            raise NotFound(f"service {slug!r} not found")

    @staticmethod
    def _check_can_set_command(user, definition):
        """Only registry admins may set or change ``process``.

        The process backend runs that command on the worker's machine, as the
        worker's user: whoever sets it can run anything there. Operators who
        import files with ``manage.py import_services`` are not limited.
        """
        process = definition.get("process", {})
        wanted = (process.get("command", ""), process.get("directory", ""))
        existing = Service.objects.filter(slug=definition["id"]).first()
        current = ("", "")
        if existing is not None:
            current = (existing.process_command, existing.process_directory)
        # Taking the command away runs nothing, so anyone who may change may.
        if wanted not in (current, ("", "")) and not is_admin(user):
            raise PermissionDenied(
                "process.command runs on the worker's machine: only registry "
                "admins may set or change it",
                code="process_needs_admin",
            )

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

"""A service's releases and its ledger.

``GET .../releases`` lists releases highest version first;
``POST .../releases/sync`` reads the image's tags from the registry now and
answers with what changed; ``GET .../ledger`` lists the numbered changes,
newest first, optionally for one environment.

Every view finds its service through ``get_service``, the one place a
caller's access to the service is decided.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.choices import Action
from accounts.permissions import check_can, restrict
from deployments import ledger
from deployments.models import Environment, LedgerEntry, Release
from deployments.releases import releases_newest_first, sync_releases
from services.models import Service

SERVICE_ID = OpenApiParameter(
    "service_id", str, OpenApiParameter.PATH, description="The service's slug."
)


class ReleaseSerializer(serializers.ModelSerializer):
    gitCommit = serializers.CharField(source="git_commit")
    isBad = serializers.BooleanField(source="is_bad")
    badReason = serializers.CharField(source="bad_reason")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Release
        fields = [
            "version",
            "image",
            "digest",
            "gitCommit",
            "isBad",
            "badReason",
            "createdAt",
        ]
        read_only_fields = fields


class SyncResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    ignored = serializers.IntegerField()
    createdVersions = serializers.ListField(child=serializers.CharField())
    ignoredTags = serializers.ListField(child=serializers.CharField())


class LedgerEntrySerializer(serializers.ModelSerializer):
    environment = serializers.CharField(source="environment.name")
    actor = serializers.CharField(
        source="actor.username", default=None, allow_null=True
    )
    actorLabel = serializers.CharField(source="actor_label")
    configVersion = serializers.IntegerField(source="config_version")
    deploymentId = serializers.IntegerField(source="deployment_id", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = LedgerEntry
        fields = [
            "number",
            "environment",
            "kind",
            "version",
            "digest",
            "configVersion",
            "trigger",
            "actor",
            "actorLabel",
            "reason",
            "deploymentId",
            "createdAt",
        ]
        read_only_fields = fields


class ServiceScopedView(GenericAPIView):
    """Base of views under ``/api/services/{id}/``."""

    filter_backends = []

    # What the caller must be allowed to do to the service (404 if unreadable).
    service_action = Action.VIEW

    def get_service(self):
        visible = restrict(Service.objects.all(), self.request.user)
        service = get_object_or_404(visible, slug=self.kwargs["service_id"])
        check_can(self.request.user, self.service_action, service)
        return service


class ReleaseListView(ServiceScopedView):
    serializer_class = ReleaseSerializer

    @extend_schema(
        parameters=[SERVICE_ID],
        description="Releases of the service, highest semantic version first.",
    )
    def get(self, request, service_id):
        # Known limitation: semver order is computed in Python, so every
        # release of the service is read before a page is cut.
        releases = releases_newest_first(self.get_service())
        page = self.paginate_queryset(releases)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ReleaseSyncView(ServiceScopedView):
    serializer_class = SyncResultSerializer
    service_action = Action.CHANGE

    @extend_schema(
        parameters=[SERVICE_ID],
        request=None,
        responses=SyncResultSerializer,
        description="Read the image's tags from the registry now and create a "
        "release for each new semantic version. Calls the registry; answers "
        "502 registry_unreachable when it cannot be reached.",
    )
    def post(self, request, service_id):
        result = sync_releases(self.get_service())
        body = {
            "created": len(result.created),
            "unchanged": result.unchanged,
            "ignored": len(result.ignored),
            "createdVersions": result.created,
            "ignoredTags": result.ignored,
        }
        return Response(SyncResultSerializer(body).data)


class LedgerView(ServiceScopedView):
    serializer_class = LedgerEntrySerializer

    @extend_schema(
        parameters=[
            SERVICE_ID,
            OpenApiParameter(
                "environment", str, description="Only this environment's entries."
            ),
        ],
        description="The numbered changes to the service, newest first.",
    )
    def get(self, request, service_id):
        service = self.get_service()
        environment = None
        name = request.query_params.get("environment")
        if name:
            environment = get_object_or_404(Environment.objects.all(), name=name)
        page = self.paginate_queryset(ledger.entries(service, environment))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

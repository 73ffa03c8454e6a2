from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from deployments.actions import request_deployment
from deployments.api.filters import DeploymentFilterSet
from deployments.api.serializers import (
    DeploymentDetailSerializer,
    DeploymentRequestSerializer,
    DeploymentSerializer,
    EnvironmentSerializer,
    LogLineSerializer,
)
from deployments.choices import Trigger
from deployments.models import Deployment, Environment

LOG_PAGE_SIZE = 500


class DeploymentViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    filterset_class = DeploymentFilterSet
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self):
        queryset = Deployment.objects.select_related(
            "service", "environment", "requested_by"
        )
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("log_lines")
        return queryset

    def get_serializer_class(self):
        if self.action == "create":
            return DeploymentRequestSerializer
        if self.action == "retrieve":
            return DeploymentDetailSerializer
        return DeploymentSerializer

    @extend_schema(
        request=DeploymentRequestSerializer,
        responses={202: DeploymentSerializer},
        description="Queue a deployment; follow it at the returned url.",
    )
    def create(self, request):
        serializer = DeploymentRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deployment = request_deployment(
            data["serviceId"],
            data["environment"],
            data["version"],
            user=request.user,
            trigger=Trigger.API,
        )
        body = DeploymentSerializer(
            deployment, context=self.get_serializer_context()
        ).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]}
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="Only lines after this seq.")
        ],
        responses={200: LogLineSerializer(many=True)},
        description="Log lines after a cursor, for following a running deployment.",
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def log(self, request, pk=None):
        deployment = self.get_object()
        try:
            after = int(request.query_params.get("after", 0))
        except ValueError:
            after = 0
        lines = deployment.log_lines.filter(seq__gt=after).order_by("seq")
        data = LogLineSerializer(lines[:LOG_PAGE_SIZE], many=True).data
        return Response(
            {
                "status": deployment.status,
                "finished": deployment.is_finished,
                "lines": data,
            }
        )


class EnvironmentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Environment.objects.all()
    serializer_class = EnvironmentSerializer
    lookup_field = "name"

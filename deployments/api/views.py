from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from accounts.permissions import check_can_deploy, restrict
from deployments.actions import (
    DeploymentInProgress,
    plan_deployment,
    promote,
    request_deployment,
    rollback_deployment,
    rollback_to,
)
from deployments.api.filters import DeploymentFilterSet
from deployments.api.serializers import (
    DeploymentDetailSerializer,
    DeploymentRequestSerializer,
    DeploymentSerializer,
    EnvironmentSerializer,
    LogLineSerializer,
    PromotionRequestSerializer,
    RollbackRequestSerializer,
    RollbackToRequestSerializer,
)
from deployments.choices import Trigger
from deployments.models import Deployment, Environment
from registry.api.viewsets import RestrictedViewSet
from services.models import Service

LOG_PAGE_SIZE = 500


class ActiveDeploymentUrlMixin:
    """A 409 for a deployment in progress links that deployment."""

    def handle_exception(self, exc):
        if isinstance(exc, DeploymentInProgress):
            exc.details["activeDeploymentUrl"] = reverse(
                "deployment-detail", args=[exc.active.pk], request=self.request
            )
        return super().handle_exception(exc)


class DeploymentViewSet(
    ActiveDeploymentUrlMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    RestrictedViewSet,
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
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Repeating a request with the same key returns the "
                "deployment the first one created instead of a new one.",
            )
        ],
        responses={202: DeploymentSerializer, 200: OpenApiTypes.OBJECT},
        description="Queue a deployment and follow it at the returned url. "
        "With dryRun the answer is the plan and nothing changes; with queue a "
        "request behind an active deployment waits instead of answering 409.",
    )
    def create(self, request):
        serializer = DeploymentRequestSerializer(data=request.data)
        # A service the caller cannot see reads as one that does not exist.
        serializer.fields["serviceId"].queryset = restrict(
            Service.objects.all(), request.user
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        service, environment = data["serviceId"], data["environment"]
        if data["dryRun"]:
            check_can_deploy(request.user, service, environment)
            plan = plan_deployment(
                service,
                environment,
                data["version"],
                data.get("strategy"),
                data["overrideBadRelease"],
            )
            return Response(plan, status=status.HTTP_200_OK)
        deployment = request_deployment(
            service,
            environment,
            data["version"],
            user=request.user,
            trigger=Trigger.API,
            queue=data["queue"],
            idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
            strategy=data.get("strategy"),
            override_bad_release=data["overrideBadRelease"],
            reason=data["reason"],
        )
        return self._accepted(deployment)

    def _accepted(self, deployment):
        body = DeploymentSerializer(
            deployment, context=self.get_serializer_context()
        ).data
        code = status.HTTP_202_ACCEPTED
        if not getattr(deployment, "created", True):
            code = status.HTTP_200_OK
        return Response(body, status=code, headers={"Location": body["url"]})

    @extend_schema(
        request=RollbackRequestSerializer,
        responses={202: DeploymentSerializer},
        description="Bring back the release that served before this deployment. "
        "The rollback is itself a deployment; it skips canary steps.",
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        deployment = self.get_object()
        serializer = RollbackRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rollback = rollback_deployment(
            deployment,
            user=request.user,
            trigger=Trigger.API,
            reason=serializer.validated_data["reason"],
        )
        return self._accepted(rollback)

    @extend_schema(
        request=PromotionRequestSerializer,
        responses={202: DeploymentSerializer},
        description="Deploy to target exactly the release serving in source: "
        "the same image digest, with the same non-secret configuration keys.",
    )
    @action(detail=False, methods=["post"])
    def promote(self, request):
        serializer = PromotionRequestSerializer(data=request.data)
        serializer.fields["serviceId"].queryset = restrict(
            Service.objects.all(), request.user
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deployment = promote(
            data["serviceId"],
            data["source"],
            data["target"],
            user=request.user,
            trigger=Trigger.API,
            reason=data["reason"],
        )
        return self._accepted(deployment)

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


class EnvironmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet
):
    queryset = Environment.objects.all()
    serializer_class = EnvironmentSerializer
    lookup_field = "name"


class ServiceRollbackView(ActiveDeploymentUrlMixin, APIView):
    """Roll a service in one environment back to a release that served before."""

    @extend_schema(
        request=RollbackToRequestSerializer,
        responses={202: DeploymentSerializer},
    )
    def post(self, request, service_id):
        visible = restrict(Service.objects.all(), request.user)
        service = get_object_or_404(visible, slug=service_id)
        serializer = RollbackToRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deployment = rollback_to(
            service,
            data["environment"],
            data["version"],
            user=request.user,
            trigger=Trigger.API,
            reason=data["reason"],
        )
        body = DeploymentSerializer(deployment, context={"request": request}).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]}
        )

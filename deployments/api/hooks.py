"""``POST /api/hooks/deploy``: a CI job deploys with a deploy hook's token.

The hook's token is the only credential accepted here; it names the service
and environment, so the body carries just the version.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import get_authorization_header
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from accounts import lockout
from deployments.api.serializers import DeploymentSerializer
from deployments.hooks import find_hook, trigger_hook


class HookRequestSerializer(serializers.Serializer):
    version = serializers.CharField(max_length=128)
    reason = serializers.CharField(max_length=500, required=False, default="")
    overrideBadRelease = serializers.BooleanField(default=False)


class DeployHookView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=HookRequestSerializer,
        responses={202: DeploymentSerializer, 401: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "Authorization",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Bearer mrh_… (the deploy hook's token)",
            )
        ],
        auth=[],
    )
    def post(self, request):
        address = lockout.client_address(request)
        hook = find_hook(_bearer(request))
        if hook is None:
            # Only wrong tokens count; a valid one is always accepted.
            error = exceptions.NotAuthenticated(
                "A valid deploy hook token is required."
            )
            raise lockout.failed_attempt("hook", address, error)

        serializer = HookRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deployment = trigger_hook(
            hook,
            data["version"],
            reason=data["reason"],
            override_bad_release=data["overrideBadRelease"],
            address=address,
        )
        body = DeploymentSerializer(deployment, context={"request": request}).data
        url = reverse("deployment-detail", args=[deployment.pk], request=request)
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": url}
        )

    def get_authenticate_header(self, request):
        return "Bearer"


def _bearer(request):
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0] != b"Bearer":
        return ""
    return parts[1].decode(errors="replace")

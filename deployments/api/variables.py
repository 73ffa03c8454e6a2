"""Per-environment configuration values of a service.

``GET`` lists them (secret values come back as null), ``PUT`` sets one or
more, ``DELETE .../{key}`` removes one. Values are encrypted at rest and
injected only when a deployment starts.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.choices import Action
from accounts.permissions import check_can, restrict
from deployments.actions import delete_variable, set_variables
from deployments.api.serializers import (
    VariableInputSerializer,
    VariableListInputSerializer,
    VariableSerializer,
)
from deployments.models import ConfigValue, Environment
from services.models import Service


def _target(request, service_id, environment, action):
    """The service and environment named, if ``action`` on them is allowed.

    Reading needs only view; writing needs manage_secrets (404 when the
    service is invisible, 403 when only readable).
    """
    visible = restrict(Service.objects.all(), request.user)
    service = get_object_or_404(visible, slug=service_id)
    env = get_object_or_404(Environment.objects.all(), name=environment)
    check_can(request.user, action, service)
    return service, env


class VariablesView(APIView):
    def _target(self, service_id, environment, action=Action.VIEW):
        return _target(self.request, service_id, environment, action)

    @extend_schema(responses=VariableSerializer(many=True))
    def get(self, request, service_id, environment):
        service, env = self._target(service_id, environment)
        values = ConfigValue.objects.filter(service=service, environment=env)
        return Response(VariableSerializer(values.order_by("key"), many=True).data)

    @extend_schema(
        request=VariableInputSerializer(many=True),
        responses=VariableSerializer(many=True),
    )
    def put(self, request, service_id, environment):
        service, env = self._target(service_id, environment, Action.MANAGE_SECRETS)
        serializer = VariableListInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        keys = set_variables(service, env, serializer.validated_data, request.user)
        values = ConfigValue.objects.filter(
            service=service, environment=env, key__in=keys
        ).order_by("key")
        return Response(VariableSerializer(values, many=True).data)


class VariableView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, service_id, environment, key):
        service, env = _target(request, service_id, environment, Action.MANAGE_SECRETS)
        if not delete_variable(service, env, key, request.user):
            return Response(
                {"code": "not_found", "message": f"{key} is not set"},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

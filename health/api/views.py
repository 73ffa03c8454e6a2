from itertools import groupby

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import restrict
from health.actions import latest_results
from health.api.serializers import ServiceHealthSerializer
from services.models import Service


def _grouped(deployments, slugs):
    by_service = {
        slug: list(items)
        for slug, items in groupby(deployments, key=lambda d: d.service.slug)
    }
    return [
        {"serviceId": slug, "environments": by_service.get(slug, [])} for slug in slugs
    ]


class ServiceHealthView(APIView):
    @extend_schema(responses=ServiceHealthSerializer)
    def get(self, request, service_id):
        visible = restrict(Service.objects.all(), request.user)
        service = get_object_or_404(visible, slug=service_id)
        (entry,) = _grouped(latest_results([service]), [service.slug])
        return Response(ServiceHealthSerializer(entry).data)


class HealthOverviewView(APIView):
    @extend_schema(responses=ServiceHealthSerializer(many=True))
    def get(self, request):
        services = restrict(Service.objects.all(), request.user)
        slugs = list(services.values_list("slug", flat=True))
        entries = _grouped(latest_results(services), slugs)
        return Response(ServiceHealthSerializer(entries, many=True).data)

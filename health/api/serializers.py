from rest_framework import serializers


class EnvironmentHealthSerializer(serializers.Serializer):
    """The latest check of the deployment serving one environment."""

    environment = serializers.CharField(source="environment.name")
    deploymentId = serializers.IntegerField(source="pk")
    version = serializers.CharField()
    address = serializers.CharField()
    status = serializers.SerializerMethodField()
    statusCode = serializers.IntegerField(source="latest.status_code", default=None)
    latencyMs = serializers.FloatField(source="latest.latency_ms", default=None)
    error = serializers.CharField(source="latest.error", default="")
    checkedAt = serializers.DateTimeField(source="latest.checked_at", default=None)

    def get_status(self, deployment) -> str:
        return deployment.latest.status if deployment.latest else "unknown"


class ServiceHealthSerializer(serializers.Serializer):
    serviceId = serializers.CharField()
    environments = EnvironmentHealthSerializer(many=True)

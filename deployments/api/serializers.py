from rest_framework import serializers

from deployments.models import Deployment, DeploymentLogLine, Environment
from services.models import Service


class DeploymentRequestSerializer(serializers.Serializer):
    serviceId = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all()
    )
    environment = serializers.SlugRelatedField(
        slug_field="name", queryset=Environment.objects.all()
    )
    version = serializers.CharField(max_length=128)
    dryRun = serializers.BooleanField(default=False)
    queue = serializers.BooleanField(default=False)


class LogLineSerializer(serializers.ModelSerializer):
    at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = DeploymentLogLine
        fields = ["seq", "at", "message"]


class DeploymentSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="deployment-detail")
    serviceId = serializers.CharField(source="service.slug")
    environment = serializers.CharField(source="environment.name")
    requestedBy = serializers.CharField(
        source="requested_by.username", default=None, allow_null=True
    )
    isCurrent = serializers.BooleanField(source="is_current")
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at")
    finishedAt = serializers.DateTimeField(source="finished_at")
    stoppedAt = serializers.DateTimeField(source="stopped_at")

    class Meta:
        model = Deployment
        fields = [
            "id",
            "url",
            "serviceId",
            "environment",
            "version",
            "status",
            "trigger",
            "backend",
            "address",
            "isCurrent",
            "error",
            "requestedBy",
            "createdAt",
            "startedAt",
            "finishedAt",
            "stoppedAt",
        ]
        read_only_fields = fields


class DeploymentDetailSerializer(DeploymentSerializer):
    log = LogLineSerializer(source="log_lines", many=True)

    class Meta(DeploymentSerializer.Meta):
        fields = [*DeploymentSerializer.Meta.fields, "log"]
        read_only_fields = fields


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = ["name", "backend", "protected", "description"]
        read_only_fields = fields


class VariableSerializer(serializers.Serializer):
    """One configuration value; a secret's value is write-only."""

    key = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)
    value = serializers.CharField(allow_blank=True, write_only=True, max_length=65536)
    secret = serializers.BooleanField(default=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["value"] = None if instance.secret else instance.value
        return data

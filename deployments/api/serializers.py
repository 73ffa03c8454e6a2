from rest_framework import serializers

from deployments.choices import Strategy
from deployments.models import Deployment, DeploymentLogLine, Environment
from services.models import Service


def _service_field():
    return serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Service.objects.all(),
        error_messages={
            "does_not_exist": "no service {value!r}",
            "invalid": "a service id is a string",
        },
    )


def _environment_field():
    return serializers.SlugRelatedField(
        slug_field="name",
        queryset=Environment.objects.all(),
        error_messages={
            "does_not_exist": "no environment {value!r}",
            "invalid": "an environment name is a string",
        },
    )


class DeploymentRequestSerializer(serializers.Serializer):
    serviceId = _service_field()
    environment = _environment_field()
    version = serializers.CharField(
        max_length=128, help_text="A semantic version, or an image digest sha256:…"
    )
    strategy = serializers.ChoiceField(
        choices=Strategy.choices,
        required=False,
        help_text="Defaults to the environment's strategy.",
    )
    reason = serializers.CharField(max_length=500, required=False, default="")
    overrideBadRelease = serializers.BooleanField(
        default=False,
        help_text="Deploy a release marked bad; the override is recorded.",
    )
    dryRun = serializers.BooleanField(default=False)
    queue = serializers.BooleanField(default=False)


class RollbackRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, default="")


class RollbackToRequestSerializer(RollbackRequestSerializer):
    environment = _environment_field()
    version = serializers.CharField(max_length=128)


class PromotionRequestSerializer(serializers.Serializer):
    serviceId = _service_field()
    source = _environment_field()
    target = _environment_field()
    reason = serializers.CharField(max_length=500, required=False, default="")

    def validate(self, attrs):
        if attrs["source"] == attrs["target"]:
            raise serializers.ValidationError(
                {"target": "must differ from source"}, code="same_environment"
            )
        return attrs


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
    rollbackOf = serializers.IntegerField(source="rollback_of_id", allow_null=True)
    rolledBackTo = serializers.CharField(source="rolled_back_to")
    overrideBadRelease = serializers.BooleanField(source="override_bad_release")
    canaryWeight = serializers.IntegerField(source="canary_weight", allow_null=True)
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
            "image",
            "status",
            "kind",
            "strategy",
            "trigger",
            "reason",
            "backend",
            "address",
            "isCurrent",
            "canaryWeight",
            "rollbackOf",
            "rolledBackTo",
            "overrideBadRelease",
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
    canarySteps = serializers.JSONField(source="canary_steps")
    canaryStepSeconds = serializers.FloatField(source="canary_step_seconds")
    canaryMaxErrorRate = serializers.FloatField(source="canary_max_error_rate")

    class Meta:
        model = Environment
        fields = [
            "name",
            "backend",
            "protected",
            "description",
            "strategy",
            "canarySteps",
            "canaryStepSeconds",
            "canaryMaxErrorRate",
        ]
        read_only_fields = fields


class VariableSerializer(serializers.Serializer):
    """One configuration value; a secret's value is write-only."""

    key = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)
    value = serializers.SerializerMethodField()
    secret = serializers.BooleanField(default=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    def get_value(self, instance) -> str | None:
        """The value, or null for a secret: secrets are never read back."""
        return None if instance.secret else instance.value


class VariableInputSerializer(serializers.Serializer):
    key = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)
    value = serializers.CharField(allow_blank=True, max_length=65536)
    secret = serializers.BooleanField(default=True)


class VariableListInputSerializer(serializers.ListSerializer):
    child = VariableInputSerializer()

    def validate(self, attrs):
        keys = [item["key"] for item in attrs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise serializers.ValidationError(
                f"each key may appear once; repeated: {', '.join(repeated)}"
            )
        return attrs

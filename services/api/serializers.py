from rest_framework import serializers

from services.models import Endpoint, Service


class RepositorySerializer(serializers.Serializer):
    url = serializers.CharField(source="repository_url")
    branch = serializers.CharField(source="repository_branch")


class DockerSerializer(serializers.Serializer):
    registry = serializers.CharField(source="docker_registry")
    image = serializers.CharField(source="docker_image")


class EnvironmentNamesSerializer(serializers.Serializer):
    required = serializers.ListField(
        child=serializers.CharField(), source="required_env"
    )
    optional = serializers.ListField(
        child=serializers.CharField(), source="optional_env"
    )


class ConfigurationSerializer(serializers.Serializer):
    port = serializers.IntegerField()
    healthCheck = serializers.CharField(source="health_check_path")
    environment = EnvironmentNamesSerializer(source="*")


class NginxSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(source="nginx_enabled")
    ssl = serializers.BooleanField(source="nginx_ssl")


class DeploymentSettingsSerializer(serializers.Serializer):
    domains = serializers.ListField(child=serializers.CharField())
    nginx = NginxSerializer(source="*")


class ProcessSerializer(serializers.Serializer):
    command = serializers.CharField(source="process_command")
    directory = serializers.CharField(source="process_directory")


class EndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Endpoint
        fields = ["path", "method", "description"]


class ServiceSerializer(serializers.ModelSerializer):
    """A catalog entry, shaped like its service-config.yaml plus metadata."""

    id = serializers.CharField(source="slug")
    url = serializers.HyperlinkedIdentityField(
        view_name="service-detail", lookup_field="slug", lookup_url_kwarg="id"
    )
    repository = RepositorySerializer(source="*")
    docker = DockerSerializer(source="*")
    configuration = ConfigurationSerializer(source="*")
    deployment = DeploymentSettingsSerializer(source="*")
    endpoints = EndpointSerializer(many=True)
    process = ProcessSerializer(source="*")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Service
        fields = [
            "id",
            "url",
            "name",
            "description",
            "repository",
            "docker",
            "configuration",
            "deployment",
            "endpoints",
            "process",
            "createdAt",
            "updatedAt",
        ]
        read_only_fields = fields

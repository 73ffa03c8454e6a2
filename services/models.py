from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from services.choices import HttpMethod


class Service(models.Model):
    """A service in the catalog, as described by its ``service-config.yaml``.

    Every field of the definition has a column here, so the catalog can be
    filtered and searched; ``services.definition`` converts both ways.
    """

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    repository_url = models.CharField(max_length=500, blank=True)
    repository_branch = models.CharField(max_length=200, blank=True)
    docker_registry = models.CharField(max_length=300, blank=True)
    docker_image = models.CharField(max_length=200, blank=True)
    port = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    health_check_path = models.CharField(max_length=500, default="/health")
    required_env = models.JSONField(default=list, blank=True)
    optional_env = models.JSONField(default=list, blank=True)
    domains = models.JSONField(default=list, blank=True)
    nginx_enabled = models.BooleanField(default=False)
    nginx_ssl = models.BooleanField(default=False)
    process_command = models.CharField(max_length=1000, blank=True)
    process_directory = models.CharField(max_length=1000, blank=True)
    source_path = models.CharField(
        max_length=1000,
        blank=True,
        help_text="File the definition was last imported from, if any.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        permissions = [
            ("deploy_service", "Can deploy the service"),
            ("manage_secrets_service", "Can manage the service's secrets"),
        ]

    def __str__(self):
        return self.slug

    @property
    def image_repository(self):
        """The image name without a tag: ``registry/image`` or ``image``."""
        if not self.docker_image:
            return ""
        if self.docker_registry:
            return f"{self.docker_registry.rstrip('/')}/{self.docker_image}"
        return self.docker_image

    def image_reference(self, version):
        return f"{self.image_repository}:{version}"


class Endpoint(models.Model):
    """One HTTP endpoint a service documents in its definition."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="endpoints"
    )
    position = models.PositiveIntegerField(default=0)
    path = models.CharField(max_length=500)
    method = models.CharField(
        max_length=7, choices=HttpMethod.choices, default=HttpMethod.GET
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["service", "position"]

    def __str__(self):
        return f"{self.method} {self.path}"

from django.conf import settings
from django.db import models
from django.db.models import Q

from deployments.choices import BackendKind, DeploymentStatus, Trigger
from deployments.encryption import EncryptedTextField
from services.models import Service

VERSION_MAX_LENGTH = 128


class Environment(models.Model):
    """A place services are deployed to, such as staging or production."""

    name = models.SlugField(max_length=63, unique=True)
    backend = models.CharField(
        max_length=16, choices=BackendKind.choices, default=BackendKind.AUTO
    )
    protected = models.BooleanField(
        default=False,
        help_text="Deploying here needs the protected-environment permission.",
    )
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ConfigValue(models.Model):
    """One environment variable's value for a service in an environment.

    Every value is encrypted at rest; ``secret`` decides whether the API and
    the admin may show it.
    """

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="config_values"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="config_values"
    )
    key = models.CharField(max_length=200)
    value = EncryptedTextField(blank=True)
    secret = models.BooleanField(
        default=True,
        help_text="Secret values are write-only in the API and masked in the admin.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service", "environment", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "environment", "key"], name="unique_config_key"
            )
        ]

    def __str__(self):
        return f"{self.service}/{self.environment}: {self.key}"


class Deployment(models.Model):
    """One request to run a version of a service in an environment.

    ``is_current`` marks the deployment serving the service in its
    environment; at most one per pair holds it.
    """

    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="deployments"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deployments"
    )
    version = models.CharField(max_length=VERSION_MAX_LENGTH)
    status = models.CharField(
        max_length=16,
        choices=DeploymentStatus.choices,
        default=DeploymentStatus.PENDING,
        db_index=True,
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    backend = models.CharField(max_length=16, choices=BackendKind.choices, blank=True)
    handle = models.CharField(
        max_length=200, blank=True, help_text="Container id or process id."
    )
    address = models.CharField(
        max_length=200, blank=True, help_text="host:port the service listens on."
    )
    is_current = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    config_fingerprint = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Per key, a keyed hash of the value deployed; never the value.",
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "environment"],
                condition=Q(is_current=True),
                name="one_current_deployment",
            ),
            models.UniqueConstraint(
                fields=["service", "environment"],
                condition=Q(status__in=DeploymentStatus.active()),
                name="one_active_deployment",
            ),
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="unique_idempotency_key",
            ),
        ]

    def __str__(self):
        return f"{self.service} {self.version} → {self.environment} (#{self.pk})"

    @property
    def is_finished(self):
        return self.status in (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED)


class DeploymentLogLine(models.Model):
    """One line of a deployment's log; ``seq`` is the cursor for followers."""

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="log_lines"
    )
    seq = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    message = models.TextField()

    class Meta:
        ordering = ["deployment", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "seq"], name="unique_log_seq")
        ]

    def __str__(self):
        return self.message

from django.conf import settings
from django.db import models
from django.db.models import Q

from deployments import imageref
from deployments.choices import (
    BackendKind,
    DeploymentKind,
    DeploymentStatus,
    LedgerKind,
    Strategy,
    Trigger,
)
from deployments.encryption import EncryptedTextField
from services.models import Service

VERSION_MAX_LENGTH = 128


def default_canary_steps():
    return [10, 50]


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
    strategy = models.CharField(
        max_length=16,
        choices=Strategy.choices,
        default=Strategy.BLUE_GREEN,
        help_text="Used when a deployment request names no strategy.",
    )
    canary_steps = models.JSONField(
        default=default_canary_steps,
        blank=True,
        help_text="Percent of traffic the new release gets at each canary step.",
    )
    canary_step_seconds = models.FloatField(default=30.0)
    canary_max_error_rate = models.FloatField(
        default=0.05, help_text="Share of 5xx answers that aborts a canary."
    )
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


class Release(models.Model):
    """A version of a service: its image resolved to a digest when known.

    Versions are semantic versions; ``deployments.semver`` orders them.
    A release that failed its health gate is marked bad and is not deployed
    again unless the caller overrides.
    """

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="releases"
    )
    version = models.CharField(max_length=VERSION_MAX_LENGTH)
    image = models.CharField(max_length=500, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    git_commit = models.CharField(max_length=64, blank=True)
    is_bad = models.BooleanField(default=False)
    bad_reason = models.TextField(blank=True)
    marked_bad_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "version"], name="unique_release_version"
            )
        ]

    def __str__(self):
        return f"{self.service} {self.version}"

    @property
    def pinned_image(self):
        """``registry/repository@digest`` when the digest is known, else the
        image reference as stored."""
        if not (self.digest and self.image):
            return self.image
        try:
            return str(imageref.parse(self.image).pinned(self.digest))
        except ValueError:
            return self.image


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
    release = models.ForeignKey(
        Release,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deployments",
    )
    image = models.CharField(
        max_length=500, blank=True, help_text="Image reference actually run."
    )
    kind = models.CharField(
        max_length=16, choices=DeploymentKind.choices, default=DeploymentKind.DEPLOY
    )
    strategy = models.CharField(
        max_length=16, choices=Strategy.choices, default=Strategy.BLUE_GREEN
    )
    reason = models.CharField(max_length=500, blank=True)
    rollback_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="rollbacks",
    )
    rolled_back_to = models.CharField(
        max_length=VERSION_MAX_LENGTH,
        blank=True,
        help_text="Version restored automatically after this deployment failed.",
    )
    override_bad_release = models.BooleanField(default=False)
    canary_weight = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Percent of traffic on the new release now."
    )
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


class LedgerEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("ledger entries are never rewritten")

    def delete(self):
        raise TypeError("ledger entries are never deleted")


class LedgerEntry(models.Model):
    """One numbered change to a service in an environment: v1, v2, ...

    Deploys, rollbacks, promotions and configuration changes each take the
    next number. Entries are append-only.
    """

    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=LedgerKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200, blank=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    version = models.CharField(max_length=VERSION_MAX_LENGTH, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    config_version = models.PositiveIntegerField(default=0)
    reason = models.CharField(max_length=500, blank=True)
    deployment = models.ForeignKey(
        Deployment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["service", "environment", "-number"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["service", "environment", "number"],
                name="unique_ledger_number",
            )
        ]

    def __str__(self):
        return f"{self.service}/{self.environment} v{self.number} {self.kind}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("ledger entries are never rewritten")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("ledger entries are never deleted")


class DeployHook(models.Model):
    """A secret URL-less token that deploys one service to one environment.

    A CI job that just pushed an image calls ``POST /api/hooks/deploy`` with
    the token as ``Authorization: Bearer mrh_…`` and a version. The deploy
    runs with the permissions of the person who created the hook, so a hook
    never grants more than its creator has. Only a hash of the token is kept.
    """

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="deploy_hooks"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="deploy_hooks"
    )
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="deploy_hooks",
        help_text="Deploys run with this person's permissions.",
    )
    lookup = models.CharField(max_length=8, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service", "environment", "name"]

    def __str__(self):
        return f"{self.name} ({self.service} → {self.environment})"

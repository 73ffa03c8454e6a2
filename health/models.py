from django.db import models

from deployments.models import Deployment, Environment
from health.choices import HealthStatus
from services.models import Service


class CheckResult(models.Model):
    """The outcome of one health check of a deployment's healthCheck path.

    ``service`` and ``environment`` repeat the deployment's so the latest
    result per service and environment is one indexed query.
    """

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="check_results"
    )
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="check_results"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="check_results"
    )
    status = models.CharField(max_length=8, choices=HealthStatus.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [
            models.Index(
                fields=["service", "environment", "-checked_at"],
                name="check_latest_idx",
            )
        ]

    def __str__(self):
        return f"{self.service}/{self.environment} {self.status} at {self.checked_at}"

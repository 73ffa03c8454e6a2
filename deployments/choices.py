from django.db import models


class BackendKind(models.TextChoices):
    AUTO = "auto", "Automatic (docker when configured, else process)"
    PROCESS = "process", "Local process"
    DOCKER = "docker", "Docker"


class DeploymentStatus(models.TextChoices):
    QUEUED = "queued"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @classmethod
    def active(cls):
        return [cls.PENDING, cls.RUNNING]


class Trigger(models.TextChoices):
    API = "api", "API"
    ADMIN = "admin", "Admin"
    CLI = "cli", "Command line"
    WEBHOOK = "webhook", "Webhook"
    SYSTEM = "system", "Registry (automatic)"


class DeploymentKind(models.TextChoices):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    PROMOTION = "promotion"


class Strategy(models.TextChoices):
    RECREATE = "recreate", "Recreate (stop, then start)"
    BLUE_GREEN = "blue-green", "Blue-green (start beside, switch, stop old)"
    CANARY = "canary", "Canary (shift traffic in steps)"


class LedgerKind(models.TextChoices):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    PROMOTION = "promotion"
    CONFIG = "config"

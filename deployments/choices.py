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

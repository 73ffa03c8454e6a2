from django.db import models


class AuditAction(models.TextChoices):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Interface(models.TextChoices):
    """Through what a change came in."""

    API = "api", "API"
    ADMIN = "admin", "Admin"
    COMMAND = "command", "Command line"
    WEBHOOK = "webhook", "Webhook"
    WORKER = "worker", "Worker"
    SYSTEM = "system", "System"

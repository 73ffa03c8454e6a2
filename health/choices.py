from django.db import models


class HealthStatus(models.TextChoices):
    UP = "up"
    DOWN = "down"

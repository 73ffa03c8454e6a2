from django.db import models


class HttpMethod(models.TextChoices):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    HEAD = "HEAD"
    OPTIONS = "OPTIONS"


class ImportOutcome(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"

from django.db import models


class Role(models.TextChoices):
    """The four roles; each is a group of the same name."""

    VIEWER = "viewer"
    DEVELOPER = "developer"
    MAINTAINER = "maintainer"
    ADMIN = "admin"


class Action(models.TextChoices):
    """What a caller wants to do with a service."""

    VIEW = "view"
    CHANGE = "change"
    DEPLOY = "deploy"
    MANAGE_SECRETS = "manage_secrets"


class Scope(models.TextChoices):
    """What an API key may be used for, whatever its owner may do."""

    READ = "read"
    DEPLOY = "deploy"
    ADMIN = "admin"

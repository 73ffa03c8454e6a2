import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.choices import Action, Scope

KEY_PREFIX = "mrk_"
LOOKUP_LENGTH = 8

# The scopes a key needs for each kind of action; "admin" also covers
# everything that is not an action on a service (audit log, users, keys).
ACTION_SCOPES = {
    Action.VIEW: {Scope.READ, Scope.DEPLOY, Scope.ADMIN},
    Action.DEPLOY: {Scope.DEPLOY, Scope.ADMIN},
    Action.CHANGE: {Scope.ADMIN},
    Action.MANAGE_SECRETS: {Scope.ADMIN},
}


def hash_key(raw_key):
    """Keys are 256-bit random, so one SHA-256 round is enough to store them."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_token(prefix):
    """``(lookup, token)``: a random token whose lookup part finds its row."""
    lookup = secrets.token_hex(LOOKUP_LENGTH // 2)
    return lookup, f"{prefix}{lookup}{secrets.token_urlsafe(32)}"


def lookup_of(token, prefix):
    """The lookup part of a token with ``prefix``, or None for another kind."""
    if not token.startswith(prefix):
        return None
    return token[len(prefix) : len(prefix) + LOOKUP_LENGTH]


class ApiKeyQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """A long-lived credential sent as ``Authorization: Bearer <key>``.

    Only a hash is stored; the key itself is shown once, at creation. A key
    acts as its owner, narrowed by its scopes and, when ``limit_to_services``
    is set, by the services listed: it never grants more than the owner has.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    lookup = models.CharField(max_length=LOOKUP_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, help_text="Any of: read, deploy, admin.")
    limit_to_services = models.BooleanField(
        default=False,
        help_text="Only the services listed below; otherwise every service "
        "the owner may use.",
    )
    services = models.ManyToManyField(
        "services.Service", blank=True, related_name="api_keys"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({KEY_PREFIX}{self.lookup}…)"

    @classmethod
    def issue(cls, user, name, scopes=tuple(Scope), services=(), expires_at=None):
        """Create a key; return ``(api_key, raw_key)``. Show ``raw_key`` once.

        With the default scopes the key may do all its owner may.
        """
        unknown = set(scopes) - set(Scope.values)
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
        lookup, raw_key = new_token(KEY_PREFIX)
        api_key = cls.objects.create(
            user=user,
            name=name,
            lookup=lookup,
            key_hash=hash_key(raw_key),
            scopes=sorted(set(scopes)),
            limit_to_services=bool(services),
            expires_at=expires_at,
        )
        if services:
            api_key.services.set(services)
        return api_key, raw_key

    @property
    def is_usable(self):
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def allows(self, action):
        """Whether the key's scopes cover ``action`` (an ``Action``)."""
        return bool(ACTION_SCOPES[action] & set(self.scopes))

    @property
    def has_admin_scope(self):
        return Scope.ADMIN in self.scopes

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class Capability(models.Model):
    """Holds registry-wide permissions that belong to no single table.

    It has no table; it exists so its permissions can be granted to roles.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            (
                "deploy_protected_environment",
                "Can deploy to protected environments",
            ),
        ]

    def __str__(self):
        return "registry-wide permissions"

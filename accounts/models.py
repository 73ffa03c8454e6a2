import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX = "mrk_"
LOOKUP_LENGTH = 8


def hash_key(raw_key):
    """Keys are 256-bit random, so one SHA-256 round is enough to store them."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """A long-lived credential sent as ``Authorization: Bearer <key>``.

    Only a hash is stored; the key itself is shown once, at creation.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    lookup = models.CharField(max_length=LOOKUP_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
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
    def issue(cls, user, name, expires_at=None):
        """Create a key; return ``(api_key, raw_key)``. Show ``raw_key`` once."""
        lookup = secrets.token_hex(LOOKUP_LENGTH // 2)
        raw_key = f"{KEY_PREFIX}{lookup}{secrets.token_urlsafe(32)}"
        api_key = cls.objects.create(
            user=user,
            name=name,
            lookup=lookup,
            key_hash=hash_key(raw_key),
            expires_at=expires_at,
        )
        return api_key, raw_key

    @property
    def is_usable(self):
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

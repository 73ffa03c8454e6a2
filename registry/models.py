from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from registry.choices import AuditAction, Interface
from registry.exceptions import RegistryError


class AuditLogImmutable(RegistryError):
    status_code = 405
    code = "audit_log_immutable"

    def __init__(self, message="the audit log is append-only", **kwargs):
        super().__init__(message, **kwargs)


class AuditEntryQuerySet(models.QuerySet):
    """Refuses bulk changes; rows are only ever inserted."""

    def update(self, **kwargs):
        raise AuditLogImmutable()

    def delete(self):
        raise AuditLogImmutable()

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogImmutable()

    update.queryset_only = True
    delete.queryset_only = True


class AuditEntry(models.Model):
    """One recorded change: who made it, through what, to which object.

    ``changes`` maps each changed field to ``[before, after]``; secret
    values are replaced by a marker before they get here. References to the
    actor, key and object carry no database constraint, so deleting a user
    never has to touch (and never can touch) the log; the ``*_name`` and
    ``object_repr`` columns keep what they were called.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    interface = models.CharField(max_length=16, choices=Interface.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(max_length=200, blank=True)
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    api_key_name = models.CharField(max_length=200, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    content_type = models.ForeignKey(
        ContentType,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    object_id = models.CharField(max_length=64, db_index=True)
    object_repr = models.CharField(max_length=300)
    changes = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="audit_obj_idx")
        ]

    def __str__(self):
        return f"{self.actor_name or self.interface} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogImmutable()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogImmutable()

"""Records every change to the registry's records in the audit log.

Changes are caught with model signals, so the API, the admin, commands and
domain functions are all covered without each having to remember. Who made
a change comes from the *audit context*: the web middleware sets it for each
request (the user and key are read when the change is recorded, after DRF
has authenticated), ``audit_context()`` sets it for commands and webhooks,
and a process started as ``manage.py <command>`` or a Celery worker gets a
matching default.

Known limitation: ``QuerySet.update()``, ``bulk_create()`` and raw SQL send
no signals, so changes made that way are not recorded.
"""

import contextvars
import getpass
import hashlib
import json
import logging
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from registry.choices import AuditAction, Interface

logger = logging.getLogger(__name__)

SECRET_MARKER = "[secret]"  # noqa: S105  (a placeholder, not a secret)
# Stands for the new value of a secret that differs from the old one.
SECRET_CHANGED_MARKER = "[secret, changed]"  # noqa: S105  (a placeholder)
SECRET_NAME = re.compile(r"password|secret|token|key_hash", re.IGNORECASE)
# Fields whose value is always secret, whatever they are called.
SECRET_FIELDS = {"deployments.ConfigValue": {"value"}}
# Bookkeeping that changes on its own and says nothing about who did what.
IGNORED_FIELDS = {"last_login", "last_used_at"}

TRACKED_MODELS = [
    "services.Service",
    "services.Endpoint",
    "deployments.Environment",
    "deployments.ConfigValue",
    "deployments.Deployment",
    "deployments.Release",
    "deployments.DeployHook",
    "accounts.ApiKey",
    "auth.User",
    "auth.Group",
    "guardian.UserObjectPermission",
    "guardian.GroupObjectPermission",
]
# Many-to-many fields whose membership changes are recorded.
TRACKED_RELATIONS = [("auth.User", "groups"), ("accounts.ApiKey", "services")]


@dataclass(frozen=True)
class AuditContext:
    interface: str
    request: object = None
    actor: object = None
    actor_name: str = ""
    address: str | None = None


def _process_context():
    program = sys.argv[0].rsplit("/", 1)[-1] if sys.argv else ""
    if program in ("manage.py", "django-admin") and len(sys.argv) > 1:
        name = f"{getpass.getuser()} ({sys.argv[1]})"
        return AuditContext(Interface.COMMAND, actor_name=name)
    if program == "celery":
        return AuditContext(Interface.WORKER, actor_name="worker")
    return AuditContext(Interface.SYSTEM)


_current = contextvars.ContextVar("audit_context", default=None)


def current_context():
    return _current.get() or _process_context()


@contextmanager
def audit_context(interface, actor=None, actor_name="", address=None, request=None):
    """Attribute changes made inside the block, e.g. in a command or webhook."""
    name = actor_name or (actor.get_username() if actor is not None else "")
    token = _current.set(AuditContext(interface, request, actor, name, address or None))
    try:
        yield
    finally:
        _current.reset(token)


class AuditContextMiddleware:
    """Attributes changes made while serving a request to that request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        interface = Interface.ADMIN if path.startswith("/admin/") else Interface.API
        address = request.META.get("REMOTE_ADDR") or None
        with audit_context(interface, address=address, request=request):
            return self.get_response(request)


def _who(context):
    """``(user, user_name, api_key)`` for the change being recorded."""
    from accounts.models import ApiKey

    user, key = context.actor, None
    if context.request is not None:
        user = getattr(context.request, "user", None)
        auth = getattr(context.request, "auth", None)
        key = auth if isinstance(auth, ApiKey) else None
    if user is not None and not user.is_authenticated:
        user = None
    # A context may name the actor more precisely, e.g. "ana (hook ci)".
    name = context.actor_name or (user.get_username() if user is not None else "")
    return user, name, key


def _plain(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def _is_secret(label, field, value):
    """Whether ``field``'s value is masked in the log.

    Fields listed in ``SECRET_FIELDS`` always are; a field whose name looks
    secret only when it holds text, so a flag such as ``secret`` is shown.
    """
    if value in (None, ""):
        return False
    if field.name in SECRET_FIELDS.get(label, set()):
        return True
    return isinstance(value, str) and bool(SECRET_NAME.search(field.name))


def _fingerprint(value):
    # Lets a change be noticed without keeping the value; held in memory only.
    return hashlib.sha256(json.dumps(_plain(value)).encode()).hexdigest()


def snapshot(instance, fingerprints=None):
    """The concrete field values of ``instance``, secrets masked.

    With ``fingerprints`` (a dict), a digest of each masked value is put in
    it, so two snapshots can tell whether a secret changed.
    """
    label = instance._meta.label
    values = {}
    for field in instance._meta.concrete_fields:
        if field.name in IGNORED_FIELDS:
            continue
        value = field.value_from_object(instance)
        if _is_secret(label, field, value):
            if fingerprints is not None:
                fingerprints[field.name] = _fingerprint(value)
            value = SECRET_MARKER
        values[field.name] = _plain(value)
    return values


def record(instance, action, changes):
    from registry.models import AuditEntry

    context = current_context()
    user, name, key = _who(context)
    return AuditEntry.objects.create(
        interface=context.interface,
        actor=user,
        actor_name=name[:200],
        api_key=key,
        api_key_name=str(key)[:200] if key is not None else "",
        address=context.address,
        action=action,
        content_type=ContentType.objects.get_for_model(instance),
        object_id=str(instance.pk),
        object_repr=str(instance)[:300],
        changes=changes,
    )


def _remember_before(sender, instance, raw=False, **kwargs):
    instance._audit_before = None
    instance._audit_before_secrets = {}
    if raw or instance._state.adding or instance.pk is None:
        return
    old = sender._base_manager.filter(pk=instance.pk).first()
    if old is not None:
        instance._audit_before = snapshot(old, instance._audit_before_secrets)


def _changes(before, after, before_secrets, after_secrets):
    """``{field: [before, after]}`` for the fields that changed.

    Masked values look alike, so a secret that is masked on both sides is
    compared by fingerprint and shown as changed with a second marker.
    """
    changes = {}
    for name, value in after.items():
        old = before.get(name)
        if name in before_secrets and name in after_secrets:
            if before_secrets[name] != after_secrets[name]:
                changes[name] = [old, SECRET_CHANGED_MARKER]
        elif old != value:
            changes[name] = [old, value]
    return changes


def _record_save(sender, instance, created, raw=False, update_fields=None, **kw):
    if raw:
        return
    after_secrets = {}
    after = snapshot(instance, after_secrets)
    before = getattr(instance, "_audit_before", None)
    before_secrets = getattr(instance, "_audit_before_secrets", {})
    instance._audit_before_secrets = {}
    if created or before is None:
        changes = {name: [None, value] for name, value in after.items()}
        record(instance, AuditAction.CREATE, changes)
        return
    changes = _changes(before, after, before_secrets, after_secrets)
    if changes:
        record(instance, AuditAction.UPDATE, changes)


def _record_delete(sender, instance, **kwargs):
    changes = {name: [value, None] for name, value in snapshot(instance).items()}
    record(instance, AuditAction.DELETE, changes)


def _record_relation(field_name):
    def handler(sender, instance, action, reverse, model, pk_set, **kwargs):
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        verb = action.removeprefix("post_")
        name = f"{model._meta.model_name}s" if reverse else field_name
        changes = {name: {verb: sorted(pk_set or [])}}
        record(instance, AuditAction.UPDATE, changes)

    return handler


def connect_signals():
    """Called once from ``RegistryConfig.ready``."""
    for label in TRACKED_MODELS:
        model = apps.get_model(label)
        uid = f"audit:{label}"
        pre_save.connect(_remember_before, sender=model, dispatch_uid=uid)
        post_save.connect(_record_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_record_delete, sender=model, dispatch_uid=uid)
    for label, field_name in TRACKED_RELATIONS:
        through = getattr(apps.get_model(label), field_name).through
        m2m_changed.connect(
            _record_relation(field_name),
            sender=through,
            dispatch_uid=f"audit:{label}.{field_name}",
            weak=False,
        )

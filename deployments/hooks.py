"""Deploy hooks: tokens a CI job uses to deploy one service to one environment.

A token looks like ``mrh_<lookup><secret>``; the lookup finds the row and the
whole token is compared with the stored SHA-256 in constant time.
"""

import hmac

from django.utils import timezone

from accounts.models import hash_key, lookup_of, new_token
from deployments.actions import request_deployment
from deployments.choices import Trigger
from deployments.models import DeployHook
from registry.audit import audit_context
from registry.choices import Interface

TOKEN_PREFIX = "mrh_"  # noqa: S105  (a prefix, not a secret)


def issue_hook(service, environment, user, name):
    """Create a hook; return ``(hook, token)``. Show the token once."""
    lookup, token = new_token(TOKEN_PREFIX)
    hook = DeployHook.objects.create(
        service=service,
        environment=environment,
        created_by=user,
        name=name,
        lookup=lookup,
        token_hash=hash_key(token),
    )
    return hook, token


def find_hook(token):
    """The usable hook this token belongs to, or None."""
    lookup = lookup_of(token, TOKEN_PREFIX)
    if lookup is None:
        return None
    hook = (
        DeployHook.objects.select_related("service", "environment", "created_by")
        .filter(lookup=lookup, revoked_at__isnull=True)
        .first()
    )
    if hook is None or not hmac.compare_digest(hook.token_hash, hash_key(token)):
        return None
    if not hook.created_by.is_active:
        return None
    return hook


def trigger_hook(hook, version, *, reason="", override_bad_release=False, address=""):
    """Deploy ``version`` as the hook's creator; recorded as a webhook."""
    DeployHook.objects.filter(pk=hook.pk).update(last_used_at=timezone.now())
    with audit_context(
        Interface.WEBHOOK,
        actor=hook.created_by,
        actor_name=f"{hook.created_by.get_username()} (hook {hook.name})",
        address=address,
    ):
        return request_deployment(
            hook.service,
            hook.environment,
            version,
            user=hook.created_by,
            trigger=Trigger.WEBHOOK,
            override_bad_release=override_bad_release,
            reason=reason or f"deploy hook {hook.name}",
        )


def revoke_hook(hook):
    """Stop the hook working at once; saved so the audit log records it."""
    if hook.revoked_at is None:
        hook.revoked_at = timezone.now()
        hook.save(update_fields=["revoked_at"])

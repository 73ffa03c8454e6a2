"""Per-environment configuration values of a service, as deployments see them."""

import hashlib
import hmac

from django.conf import settings

from deployments.models import ConfigValue


def values_for(service, environment):
    """``{key: value}`` of every value set for the service in the environment."""
    return dict(
        ConfigValue.objects.filter(
            service=service, environment=environment
        ).values_list("key", "value")
    )


def injected(service, values):
    """The values a deployment injects: only names the definition declares."""
    allowed = set(service.required_env) | set(service.optional_env)
    return {key: value for key, value in values.items() if key in allowed}


def missing(service, values):
    return [name for name in service.required_env if name not in values]


def fingerprint(values):
    """A keyed hash per key: tells whether a value changed, never what it is."""
    key = settings.SECRET_KEY.encode()
    return {
        name: hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]
        for name, value in sorted(values.items())
    }


def diff(old, new):
    """Compare two fingerprints; returns added, removed and changed key names."""
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(k for k in set(old) & set(new) if old[k] != new[k]),
    }

"""Request rate limits per user, per API key and per client address.

All three count in the default cache (Redis when ``REDIS_URL`` is set, so
every web process shares the counts). Rates are read from
``MECH["THROTTLE_RATES"]`` on each request; ``None`` turns a limit off.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.lockout import client_address
from accounts.models import ApiKey


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.MECH["THROTTLE_RATES"].get(self.scope)


class UserRateThrottle(_SettingsRateThrottle):
    """Per signed-in user (JWT or session); key requests count per key."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated or isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ApiKeyRateThrottle(_SettingsRateThrottle):
    scope = "key"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class AddressRateThrottle(_SettingsRateThrottle):
    """Every request from one address, signed in or not."""

    scope = "address"

    def get_cache_key(self, request, view):
        ident = client_address(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginRateThrottle(AddressRateThrottle):
    """Token requests per address, on top of the failed-login lockout."""

    scope = "login"

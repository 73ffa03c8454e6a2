"""API key authentication, sharing the ``Bearer`` scheme with JWT.

A bearer token that starts with the key prefix is an API key and is settled
here; anything else is left to the JWT authenticator that follows.

The key is attached to the user as ``api_key_in_use``, so every permission
check downstream (API, domain actions) narrows the owner's rights to the
key's scopes and services.
"""

import hmac
import logging
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts import lockout
from accounts.models import KEY_PREFIX, ApiKey, hash_key, lookup_of

logger = logging.getLogger(__name__)

# last_used_at is a hint for operators; writing it on every request would
# turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].decode(errors="replace") != self.keyword:
            return None
        token = header[1].decode(errors="replace")
        if not token.startswith(KEY_PREFIX):
            return None

        try:
            return self._authenticate_key(token)
        except exceptions.AuthenticationFailed as error:
            # A valid key is never refused, whatever its address did before.
            address = lockout.client_address(request)
            raise lockout.failed_attempt("key", address, error)

    def _authenticate_key(self, token):
        lookup = lookup_of(token, KEY_PREFIX)
        api_key = (
            ApiKey.objects.usable().select_related("user").filter(lookup=lookup).first()
        )
        if api_key is None or not hmac.compare_digest(
            api_key.key_hash, hash_key(token)
        ):
            raise exceptions.AuthenticationFailed("Invalid or expired API key.")
        if not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("The key's owner is inactive.")
        self._touch(api_key)
        user = api_key.user
        user.api_key_in_use = api_key
        return user, api_key

    @staticmethod
    def _touch(api_key):
        now = timezone.now()
        last = api_key.last_used_at
        if last is None or now - last > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)

    def authenticate_header(self, request):
        return self.keyword

"""Encryption at rest for configuration values.

Values are encrypted with MultiFernet: the first key in
``MECH_ENCRYPTION_KEYS`` encrypts, every listed key decrypts, so a new key
can be put first and ``manage.py rotate_encryption_key`` re-encrypts the
stored values under it before the old key is removed. With no key set, one
is derived from ``SECRET_KEY`` so a fresh clone works; production should set
its own keys.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _derived_key():
    digest = hashlib.sha256(b"mech-registry-config:" + settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(digest.digest())


@cache
def _box(keys):
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"MECH_ENCRYPTION_KEYS holds an invalid key: {exc}")


def box():
    keys = tuple(settings.MECH["ENCRYPTION_KEYS"]) or (_derived_key(),)
    return _box(keys)


def encrypt(plaintext):
    return box().encrypt(plaintext.encode()).decode()


def decrypt(token):
    try:
        return box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "a stored configuration value cannot be decrypted with the keys in "
            "MECH_ENCRYPTION_KEYS; was a key removed before rotating?"
        ) from None


def rotate(token):
    return box().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """Text that is encrypted in the database and plain in Python."""

    def from_db_value(self, value, expression, connection):
        return value if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value if value is None else encrypt(value)

"""Domain errors with a stable machine code, mapped to HTTP in one place."""


class RegistryError(Exception):
    """Base of errors the API turns into a response with ``code``."""

    status_code = 400
    code = "invalid"

    def __init__(self, message, *, code=None, details=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class NotFound(RegistryError):
    status_code = 404
    code = "not_found"


class Conflict(RegistryError):
    status_code = 409
    code = "conflict"


class PermissionDenied(RegistryError):
    status_code = 403
    code = "permission_denied"

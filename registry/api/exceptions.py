"""One shape for every API error: ``{"code", "message", "errors"?}``.

Validation errors keep DRF's field-level detail under ``errors``, with field
names as the API spells them.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from registry.exceptions import RegistryError


def exception_handler(exc, context):
    if isinstance(exc, RegistryError):
        body = {"code": exc.code, "message": exc.message, **exc.details}
        return Response(body, status=exc.status_code)

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "message": "The request is not valid.",
            "errors": response.data,
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        # simplejwt passes a dict detail; its code is still the class's own.
        code = codes if isinstance(codes, str) else exc.default_code
        detail = (
            response.data.get("detail", "") if isinstance(response.data, dict) else ""
        )
        response.data = {"code": code, "message": str(detail)}
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.data["retryAfter"] = getattr(exc, "wait", None)
    return response

"""The API's errors in Mastodon's shape: ``{"error": "..."}`` with the right status.

Also turns the read gate's refusal into a 429 carrying the machine-readable budget fields, and
Django's own exceptions raised by services (``ValidationError``, ``PermissionDenied``) into
422/403, so no refusal ever reaches the client as a 500.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from access.gate import ReadBudgetExhausted
from access.responses import budget_exhausted_payload, retry_after_seconds
from core.request_input import input_refusal

INVALID_TOKEN = "The access token is invalid"  # noqa: S105 - a message, not a secret
AUTH_REQUIRED = "This method requires an authenticated user"
OUTSIDE_SCOPES = "This action is outside the authorized scopes"


class Unprocessable(exceptions.APIException):
    """422: the request was understood but its content is not acceptable (Mastodon's choice)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "Validation failed"
    default_code = "unprocessable"


class StoreUnavailable(exceptions.APIException):
    """503: the idempotency store (Redis) cannot be reached, so we cannot promise one post."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "Posting with an Idempotency-Key is unavailable for a moment because we cannot check "
        "for an earlier identical request. Retry in a minute; nothing was posted."
    )
    default_code = "idempotency_unavailable"


class Conflict(exceptions.APIException):
    """409: the same Idempotency-Key is still being processed by another request."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed."
    default_code = "conflict"


def _message(detail) -> str:
    """Flatten DRF/Django error details into one sentence a person can read."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = _message(value)
            parts.append(text if field in ("non_field_errors", "__all__") else f"{field}: {text}")
        return " ".join(parts)
    if isinstance(detail, list | tuple):
        return " ".join(_message(item) for item in detail)
    return str(detail)


def _django_validation_message(exc: DjangoValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return _message(exc.message_dict)
    return _message(exc.messages)


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every refusal as ``{"error": ...}`` (plus fields for a 429)."""
    if isinstance(exc, ReadBudgetExhausted):
        response = Response(budget_exhausted_payload(exc.grant), status=429)
        response["Retry-After"] = str(retry_after_seconds(exc.grant))
        return response
    refusal = input_refusal(exc)  # too many fields, a body too big: met while parsing
    if refusal is not None:
        status_code, message = refusal
        return Response({"error": message}, status=status_code)
    if isinstance(exc, DjangoValidationError):
        exc = Unprocessable(_django_validation_message(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "This action is not allowed")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Record not found")
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django log it and answer 500
    # Imported here: rest_framework.views imports the authentication classes, which import us.
    from rest_framework.views import set_rollback

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.NotAuthenticated):
        message = AUTH_REQUIRED
    elif isinstance(exc, exceptions.AuthenticationFailed):
        message = INVALID_TOKEN
    else:
        message = _message(exc.detail)
    set_rollback()
    return Response({"error": message}, status=exc.status_code, headers=headers)

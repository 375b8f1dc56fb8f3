"""Request input every page and API route refuses the same way: too many query parameters or
form fields, a body over the size limit, form bodies that are not valid UTF-8.

``RequestInputMiddleware`` checks these before any view or other middleware reads the input,
so the answer is a clear 4xx — Mastodon's JSON ``{"error": …}`` under ``/api/``, the 400 page
elsewhere — with ``DEBUG`` on or off. (With ``DEBUG`` on, Django's debug page re-reads
``request.GET``, so more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` query parameters raised
``TooManyFieldsSent`` again while the error was being reported: a 500.)

Django decodes form bodies with ``errors="replace"``, so invalid UTF-8 was stored as U+FFFD
while the JSON parser refused it; form bodies are now refused as JSON ones are.
``handler400`` and the API's exception handler use ``input_refusal`` for the same limits met
later (e.g. too many fields in a multipart body, parsed by the view).
"""

from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.views import defaults

API_PREFIX = "/api/"
FORM_URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
UTF8_NAMES = {"utf-8", "utf8"}


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def _kilobytes(size: int) -> str:
    return f"{size // 1024:,} KB"


def too_many_query_parameters_message() -> str:
    return (
        f"Too many query parameters: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} are "
        "accepted. Shorten the address and try again."
    )


def too_many_fields_message() -> str:
    return (
        f"Too many form fields: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} are "
        "accepted; nothing was saved."
    )


def body_too_big_message(size: int | None = None) -> str:
    limit = _kilobytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    sent = f"The request body is {_kilobytes(size)}; " if size else "The request body is too big; "
    return f"{sent}at most {limit} is accepted. Nothing was saved."


INVALID_UTF8_MESSAGE = (
    "The form is not valid UTF-8: some characters were garbled on the way. Send the text as "
    "UTF-8 and try again; nothing was saved."
)


def input_refusal(exc: BaseException) -> tuple[int, str] | None:
    """The status and sentence for Django's input-limit exceptions, or None for others."""
    if isinstance(exc, RequestDataTooBig):
        return 413, body_too_big_message()
    if isinstance(exc, TooManyFieldsSent):
        return 400, too_many_fields_message()
    if isinstance(exc, TooManyFilesSent):
        return 400, "Too many files in one request; nothing was saved."
    return None


def input_refused_response(request: HttpRequest, *, status: int, message: str) -> HttpResponse:
    """JSON ``{"error": …}`` for the API, the 400 page (with the sentence) for the web."""
    if is_api_request(request):
        return JsonResponse({"error": message}, status=status)
    return render(request, "400.html", {"message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: input limits with their sentence, other bad requests (a bad Host, a
    malformed cookie) as Django answers them — but in JSON under ``/api/``."""
    refusal = input_refusal(exception)
    if refusal is not None:
        status, message = refusal
        return input_refused_response(request, status=status, message=message)
    if is_api_request(request):
        return JsonResponse({"error": "The request could not be understood."}, status=400)
    return defaults.bad_request(request, exception)


def _content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0  # Django reads no body then either


def _form_is_utf8(request: HttpRequest) -> bool:
    """True unless a UTF-8 form body (the only charset we send and expect) has bytes that
    are not UTF-8, raw or percent-encoded. Multipart bodies carrying a file are not checked
    (files are binary; no route accepts one)."""
    charset = (request.content_params or {}).get("charset", "utf-8").strip().lower()
    if charset not in UTF8_NAMES:
        return True  # Django decodes with the charset the client declared
    body = request.body
    if request.content_type == FORM_URLENCODED:
        body = unquote_to_bytes(body)
    elif b"filename=" in body:
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class RequestInputMiddleware:
    """Refuses over-long query strings, oversized bodies and non-UTF-8 form bodies with a
    clear 4xx before anything else reads them (module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            status, message = refusal
            return input_refused_response(request, status=status, message=message)
        return self.get_response(request)

    def _refusal(self, request: HttpRequest) -> tuple[int, str] | None:
        try:
            request.GET  # noqa: B018 - parsed once here, so later readers cannot raise
        except TooManyFieldsSent:
            # Nothing may read the query again (Django's debug page would, and raise).
            request.GET = QueryDict()
            return 400, too_many_query_parameters_message()
        size = _content_length(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        upload_limit = settings.UPLOAD_PATHS.get(request.path)
        uploads = upload_limit is not None
        if uploads:
            # The routes that take images: room for as many as each takes.
            limit = upload_limit
        if limit is not None and size > limit:
            return 413, body_too_big_message(size)
        is_form = request.content_type in (FORM_URLENCODED, MULTIPART)
        # An upload's body is streamed to the multipart parser, never read whole (files are
        # binary anyway; Django decodes the text fields).
        if uploads and request.content_type == MULTIPART:
            return None
        if size and is_form and not _form_is_utf8(request):
            return 400, INVALID_UTF8_MESSAGE
        return None

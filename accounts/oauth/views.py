"""The consent pages of OAuth's authorization-code flow: ``/oauth/authorize``.

Logged out, a person is sent to the login page and back. Logged in, they see which app asks
for what, in words, and approve or deny with a CSRF-protected form on a page that can never
be framed. Approving hands the app a one-time code: shown on a page for
``urn:ietf:wg:oauth:2.0:oob``, else by redirecting to the app's exact redirect URI with
``code`` and ``state``. Problems with the app or its redirect URI are shown here (never
redirected to an address we cannot trust); others go back to the app as RFC 6749 errors.
"""

import re
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.http import require_http_methods
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from .models import OAuthApplication
from .scopes import scope_describe, scopes_parse
from .selectors import application_by_client_id
from .services import OOB_REDIRECT_URI, authorization_check, authorization_code_issue

# RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters of the unreserved set.
CODE_CHALLENGE_RE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
SUSPENDED = "This app is suspended on this server and cannot be authorized."


def opener_policy_allows_popups(view):
    """Send ``Cross-Origin-Opener-Policy: same-origin-allow-popups`` instead of the site's
    ``same-origin``: web clients open the login in a popup and poll ``popup.closed``, which
    ``same-origin`` breaks (SecurityMiddleware only sets the header when it is absent)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Cross-Origin-Opener-Policy"] = "same-origin-allow-popups"
        return response

    return wrapped


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked ``/oauth/authorize`` request: the app, where to answer and what it asks."""

    application: OAuthApplication
    redirect_uri: str
    scopes: list[str]
    state: str | None
    code_challenge: str


class AuthorizationRefused(Exception):
    """The request cannot be approved; ``error`` is RFC 6749's name for why."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error, self.description = error, description


def _page_error(request, message: str, status: int = 400):
    return render(request, "accounts/oauth/error.html", {"message": message}, status=status)


def _redirect(uri: str, params: dict) -> HttpResponse:
    """A 302 to the app's registered redirect URI, custom schemes included (Django's
    HttpResponseRedirect allows only http, https and ftp)."""
    separator = "&" if "?" in uri else "?"
    response = HttpResponse(status=302)
    response["Location"] = uri + separator + urlencode(params)
    return response


def _app_and_redirect(params) -> tuple[OAuthApplication, str] | str:
    """The app and the exact redirect URI to answer at, or why there is none (shown)."""
    application = application_by_client_id(client_id=params.get("client_id"))
    if application is None:
        return "This app is not registered here (unknown client_id). Ask its makers."
    registered = application.redirect_uri_list
    redirect_uri = params.get("redirect_uri") or (registered[0] if len(registered) == 1 else "")
    if redirect_uri not in registered:
        return (
            "The app asked to be answered at an address it did not register "
            "(redirect_uri must match exactly). Nothing was shared."
        )
    return application, redirect_uri


def _authorization_request(application, redirect_uri, params) -> AuthorizationRequest:
    """The checked request; a suspended app raises the services' InvalidClientError."""
    # A literal "None" is what some clients send for "no state"; it is echoed as given.
    state = params.get("state") or None
    scopes = scopes_parse(params.get("scope") or "read")
    try:
        authorization_check(application=application, scopes=scopes)
    except oauth_errors.InvalidScopeError as error:
        raise AuthorizationRefused(error.error, error.description) from None
    if params.get("response_type") != "code":
        raise AuthorizationRefused("unsupported_response_type", "response_type must be code.")
    challenge = params.get("code_challenge") or ""
    method = params.get("code_challenge_method") or ("S256" if challenge else "")
    if method and method != "S256":
        raise AuthorizationRefused(
            "invalid_request", "code_challenge_method: only S256 is supported."
        )
    if method and not CODE_CHALLENGE_RE.fullmatch(challenge):
        raise AuthorizationRefused(
            "invalid_request", "code_challenge: give BASE64URL(SHA256(code_verifier))."
        )
    return AuthorizationRequest(application, redirect_uri, scopes, state, challenge)


def _answer(request, auth: AuthorizationRequest, params: dict) -> HttpResponse:
    if auth.redirect_uri == OOB_REDIRECT_URI:
        context = {"application": auth.application, **params}
        status = 200 if "code" in params else 400
        return render(request, "accounts/oauth/code.html", context, status=status)
    if auth.state is not None:
        params = {**params, "state": auth.state}
    return _redirect(auth.redirect_uri, params)


@never_cache
@xframe_options_deny
@opener_policy_allows_popups
@require_http_methods(["GET", "POST"])
def authorize(request):
    """GET: ask the person to approve the app; POST: their answer (approve or deny).

    Unknown parameters (``force_login``, ``lang``) are ignored. The POST carries the same
    query string, so what is approved is exactly what was shown.
    """
    params = request.GET
    found = _app_and_redirect(params)
    if isinstance(found, str):
        return _page_error(request, found)
    application, redirect_uri = found
    try:
        auth = _authorization_request(application, redirect_uri, params)
    except oauth_errors.InvalidClientError:
        return _page_error(request, SUSPENDED)
    except AuthorizationRefused as refused:
        fake = AuthorizationRequest(application, redirect_uri, [], params.get("state"), "")
        if redirect_uri == OOB_REDIRECT_URI:
            return _page_error(request, refused.description)
        return _answer(
            request, fake, {"error": refused.error, "error_description": refused.description}
        )
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.method == "POST":
        if request.POST.get("decision") != "approve":
            return _answer(
                request,
                auth,
                {"error": "access_denied", "error_description": "The person declined."},
            )
        try:
            code = authorization_code_issue(
                application=application,
                user=request.user,
                redirect_uri=redirect_uri,
                scopes=auth.scopes,
                code_challenge=auth.code_challenge,
            )
        except oauth_errors.InvalidClientError:  # suspended since the request was checked
            return _page_error(request, SUSPENDED)
        return _answer(request, auth, {"code": code})
    context = {
        "application": application,
        "scopes": [(scope, scope_describe(scope)) for scope in auth.scopes],
        "redirect_uri": redirect_uri,
        "action": request.get_full_path(),
    }
    return render(request, "accounts/oauth/authorize.html", context)

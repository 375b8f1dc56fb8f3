"""Who is calling the API: a personal access token (``Authorization: Bearer``) or a session.

Tokens are looked up by hash through ``accounts.auth_cache.api_token_authenticate`` (the
token, its user and effective tier cached, invalidated by every change); an unknown or
revoked token is refused with 401 on the request that presents it (never silently treated as
anonymous). Session users (the browsable API, the web UI's scripts) must send a CSRF token on
unsafe methods, which DRF's ``SessionAuthentication`` enforces.
"""

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from accounts.auth_cache import api_token_authenticate
from core.client_ip import client_ip

from .exceptions import INVALID_TOKEN


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` with a personal or an OAuth app's token; sets
    ``request.auth``."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        try:
            keyword, _, raw = header.decode("ascii").partition(" ")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN) from exc
        if keyword.lower() != self.keyword.lower():
            return None  # another scheme (e.g. Basic): not ours to judge
        # A view may ask for Redis reads to ride with the token check (``auth_alongside``).
        view = (getattr(request, "parser_context", None) or {}).get("view")
        alongside = view.auth_alongside(request) if hasattr(view, "auth_alongside") else None
        token = api_token_authenticate(raw=raw.strip(), ip=client_ip(request), alongside=alongside)
        if token is None:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        # An app's client-credentials token acts for nobody: it reads as a logged-out caller.
        return (token.user if token.user_id is not None else AnonymousUser()), token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) when credentials are missing or wrong.
        return 'Bearer realm="Microblog API", error="invalid_token"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The logged-in web session, with CSRF enforced on unsafe methods (DRF's behaviour)."""

"""Who is calling the API: a personal access token (``Authorization: Bearer``) or a session.

Tokens are looked up by hash through ``accounts.selectors.token_authenticate``; an unknown or
revoked token is refused with 401 on the request that presents it (never silently treated as
anonymous). Session users (the browsable API, the web UI's scripts) must send a CSRF token on
unsafe methods, which DRF's ``SessionAuthentication`` enforces.
"""

from rest_framework import authentication, exceptions

from accounts.selectors import token_authenticate
from accounts.services import token_mark_used
from core.client_ip import client_ip

from .exceptions import INVALID_TOKEN


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` with a personal access token; sets ``request.auth``."""

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
        token = token_authenticate(raw=raw.strip())
        if token is None:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        token_mark_used(token=token, ip=client_ip(request))
        return token.user, token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) when credentials are missing or wrong.
        return 'Bearer realm="Microblog API", error="invalid_token"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The logged-in web session, with CSRF enforced on unsafe methods (DRF's behaviour)."""

"""Scopes: what a token may do. A view names the scope each method needs in
``required_scopes`` (Mastodon's granular ones: ``{"POST": "write:statuses"}``, or a tuple of
alternatives); a method it does not name needs plain ``read`` (safe methods) or ``write``.
``read`` covers every ``read:*`` and ``write`` every ``write:*`` (``accounts.oauth.scopes``),
never the other way round. A session (the person themselves) has every scope.
"""

from rest_framework import exceptions, permissions

from access.reading_policy import FEED_DISABLED, LOGIN_REQUIRED, feed_access
from accounts.models import ApiToken

from .exceptions import OUTSIDE_SCOPES


def required_scope(method: str) -> str:
    return "read" if method in permissions.SAFE_METHODS else "write"


def view_required_scopes(view, method: str) -> tuple[str, ...]:
    """The scopes of which a token needs one for ``method`` on ``view`` (empty: any token)."""
    declared = getattr(view, "required_scopes", {})
    lookup = "GET" if method in ("HEAD", "OPTIONS") else method
    scopes = declared.get(lookup)
    if scopes is None:
        return (required_scope(method),)
    return (scopes,) if isinstance(scopes, str) else tuple(scopes)


class TokenHasScope(permissions.BasePermission):
    """A token must carry the scope the view requires for the method; sessions always may."""

    message = OUTSIDE_SCOPES

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        required = view_required_scopes(view, request.method)
        return not required or any(token.has_scope(scope) for scope in required)


class IsAuthenticatedMastodon(permissions.IsAuthenticated):
    """An authenticated caller is required (401 "This method requires an authenticated user")."""


class FeedReadingPolicy(permissions.BasePermission):
    """Honours the operator's logged-out reading policy (``access.reading_policy``) for views
    that name the feed they serve in ``reading_feed``: 401 behind a login wall, 403 when the
    feed is switched off."""

    def has_permission(self, request, view):
        feed = getattr(view, "reading_feed", None)
        if feed is None:
            return True
        access = feed_access(user=request.user, feed=feed)
        if access == LOGIN_REQUIRED:
            raise exceptions.NotAuthenticated()
        if access == FEED_DISABLED:
            raise exceptions.PermissionDenied("This feed is not available on this server.")
        return True

"""Scopes: what a token may do. Reading needs ``read``; anything that writes needs ``write``.

Mastodon clients ask for granular scopes ("read:statuses", "write:favourites"); they map to
their prefix. A session (the person themselves) has every scope.
"""

from rest_framework import exceptions, permissions

from access.reading_policy import FEED_DISABLED, LOGIN_REQUIRED, feed_access
from accounts.models import ApiToken

from .exceptions import OUTSIDE_SCOPES


def required_scope(method: str) -> str:
    return "read" if method in permissions.SAFE_METHODS else "write"


class TokenHasScope(permissions.BasePermission):
    """A token must carry the scope of the request's method; sessions always may."""

    message = OUTSIDE_SCOPES

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        return token.has_scope(required_scope(request.method))


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

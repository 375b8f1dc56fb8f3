"""Who may read which feed without logging in (Mastodon 4.5's "live feed access" model).

Per feed, a setting says ``public`` (logged-out readers may read, within the anonymous tier's
budget), ``authenticated`` (logged-out readers meet a login wall) or, for the public timeline
only, ``disabled`` (nobody but staff sees it). Web pages and API endpoints both ask
``feed_access`` — the one place that decides.
"""

from django.conf import settings

PUBLIC = "public"
AUTHENTICATED = "authenticated"
DISABLED = "disabled"

PUBLIC_TIMELINE = "public_timeline"
PROFILES = "profiles"
POSTS = "posts"

ALLOWED = {
    PUBLIC_TIMELINE: (PUBLIC, AUTHENTICATED, DISABLED),
    PROFILES: (PUBLIC, AUTHENTICATED),
    POSTS: (PUBLIC, AUTHENTICATED),
}

ALLOW = "allow"
LOGIN_REQUIRED = "login_required"
FEED_DISABLED = "disabled"


def feed_access(*, user, feed: str) -> str:
    """``allow``, ``login_required`` or ``disabled`` for this reader and feed."""
    policy = settings.LOGGED_OUT_READING[feed]
    if policy == DISABLED and not (user is not None and user.is_authenticated and user.is_staff):
        return FEED_DISABLED
    if policy == AUTHENTICATED and not (user is not None and user.is_authenticated):
        return LOGIN_REQUIRED
    return ALLOW

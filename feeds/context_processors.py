"""Template context for the navigation: the reader's unread notification count."""

from django.utils.functional import SimpleLazyObject

from .notifications import UNREAD_COUNT_CAP, unread_count


def notifications_unread(request):
    """``notifications_unread``: how many notifications arrived since the reader last marked
    them read (at most ``UNREAD_COUNT_CAP``), looked up only when a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "notifications_unread": SimpleLazyObject(lambda: unread_count(user=user)),
        "notifications_unread_cap": UNREAD_COUNT_CAP,
    }

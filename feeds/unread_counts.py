"""The unread-notification count every page's navigation shows, cached exactly.

Counting runs the visibility rule over the reader's notifications: ~5 ms of ORM on every
page. The count is kept under two *generations*, as ``accounts.auth_cache`` keeps tokens:
the reader's (renewed when one of their notifications is written or deleted — cascades from
a deleted post included — and when their notifications marker moves) and the site's
(renewed when an account is suspended or reinstated, which changes whose notifications are
visible). The reader's is renewed by the ``post_save``/``post_delete`` receivers below, so
every notification write must send them: ``notifications._notify`` is the only writer, and
a ``bulk_create`` or ``update()`` there would need ``unread_count_changed`` (a test in
``tests/feeds/test_unread_counts.py`` fails otherwise). Generations are read before
counting and renewed again after commit, so a count racing a change can only be stored
under a generation that is already gone. A missing generation never matches; with Redis
unreachable, or ``RENDER_CACHE=0``, every page counts.
"""

from collections.abc import Callable
from contextlib import suppress
from uuid import uuid4

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from core.cache_errors import CACHE_ERRORS
from core.render_cache import render_cache_enabled

_COUNT = "notif:unread:{}"
_READER_GENERATION = "notif:gen:{}"
_SITE_GENERATION = "notif:gen:site"


def _seconds() -> int:
    return settings.RENDER_CACHE_SECONDS


def unread_count_cached(*, user_id: int, count: Callable[[], int]) -> int:
    """``count()`` for ``user_id``, from the cache while neither generation changed."""
    if not render_cache_enabled():
        return count()
    generation_keys = [_SITE_GENERATION, _READER_GENERATION.format(user_id)]
    key = _COUNT.format(user_id)
    try:
        found = cache.get_many([*generation_keys, key])
        generations = [found.get(name) for name in generation_keys]
        entry = found.get(key)
        if entry is not None and None not in generations and entry[0] == generations:
            return entry[1]
        if None in generations:
            for name, generation in zip(generation_keys, generations, strict=True):
                if generation is None:
                    cache.add(name, uuid4().hex, timeout=2 * _seconds())
            current = cache.get_many(generation_keys)
            generations = [current.get(name) for name in generation_keys]
        value = count()
        if None not in generations:
            cache.set(key, (generations, value), timeout=_seconds())
        return value
    except CACHE_ERRORS:
        return count()


def _renew(keys: list[str]) -> None:
    """New generations now (for this transaction) and again after commit (so no request
    that read the old rows meanwhile stored its count under the new one)."""

    def renew():
        # Unreachable: entries expire, RENDER_CACHE_SECONDS bounds a lost invalidation.
        with suppress(*CACHE_ERRORS):
            cache.set_many({key: uuid4().hex for key in keys}, timeout=2 * _seconds())

    renew()
    transaction.on_commit(renew)


def unread_count_changed(*, user_id: int) -> None:
    """Invalidate ``user_id``'s cached count."""
    _renew([_READER_GENERATION.format(user_id)])


def unread_counts_changed_everywhere(**_ignored) -> None:
    """Invalidate every cached count (an account's visibility changed)."""
    _renew([_SITE_GENERATION])


# --- Signal receivers (connected in FeedsConfig.ready): invalidation only, no rules. ---


def notification_written(sender, instance, **kwargs) -> None:
    unread_count_changed(user_id=instance.recipient_id)


def marker_saved(sender, instance, **kwargs) -> None:
    if instance.timeline == instance.NOTIFICATIONS:
        unread_count_changed(user_id=instance.user_id)

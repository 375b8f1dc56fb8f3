"""The cache of what is rendered once and shown to every reader: the viewer-independent part
of a Mastodon status and of a web post fragment.

Entries are keyed by a digest of *every input* the rendering reads (ids, text, counts, the
author's profile fields, the request's scheme and host where URLs are absolute). The rows
those inputs come from are loaded for the page anyway, so a change to any of them — a like,
a new display name, a verified badge — yields a new key: nothing is ever served stale, no
version needs looking up, and a page costs one ``get_many`` (one Redis round trip). Deleted
posts and suspended authors never reach rendering (``Post.objects.visible()``); their old
entries simply expire.

With Redis unreachable the page is rendered as if the cache were off (never a 500).
``RENDER_CACHE=0`` turns it off (benchmarks compare both ways).
"""

import hashlib
from collections.abc import Callable, Hashable
from contextlib import suppress
from typing import TypeVar

from django.conf import settings
from django.core.cache import caches

from .cache_errors import CACHE_ERRORS

T = TypeVar("T")

ALIAS = "render"


def render_cache_enabled() -> bool:
    return bool(getattr(settings, "RENDER_CACHE", True))


def render_key(kind: str, inputs: Hashable) -> str:
    """A cache key for a rendering of ``kind`` from ``inputs`` (a tuple of plain values whose
    ``repr`` is stable: ints, strings, datetimes, booleans, None, nested tuples)."""
    digest = hashlib.blake2b(repr(inputs).encode(), digest_size=16).hexdigest()
    return f"r:{kind}:{digest}"


def rendered_many(builders: dict[str, Callable[[], T]]) -> dict[str, T]:
    """The cached rendering for each key, building (and storing) the missing ones.

    One ``get_many`` and at most one ``set_many``. Callers get fresh copies from the cache
    backend (it pickles), so they may add per-request fields to what they receive.
    """
    if not builders:
        return {}
    if not render_cache_enabled():
        return {key: build() for key, build in builders.items()}
    cache = caches[ALIAS]
    try:
        found = cache.get_many(list(builders))
    except CACHE_ERRORS:
        return {key: build() for key, build in builders.items()}
    missing = {key: build() for key, build in builders.items() if key not in found}
    if missing:
        # Unreachable: served uncached this time; the next request tries again.
        with suppress(*CACHE_ERRORS):
            cache.set_many(missing, timeout=settings.RENDER_CACHE_SECONDS)
    return found | missing

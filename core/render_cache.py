"""The cache of what is rendered once and shown to every reader: the viewer-independent part
of a Mastodon status and of a web post fragment.

Entries are keyed by a digest of *every input* the rendering reads (ids, text, counts, the
author's profile fields, the request's scheme and host where URLs are absolute). The rows
those inputs come from are loaded for the page anyway, so a change to any of them — a like,
a new display name, a verified badge — yields a new key: nothing is ever served stale, no
version needs looking up, and a page costs one ``get_many`` (one Redis round trip). Deleted
posts and suspended authors never reach rendering (``Post.objects.visible()``); their old
entries simply expire. (The API's status lists on PostgreSQL have the database digest those
rows instead of loading them: ``feeds.page_load``'s shallow rows; a rendering made from rows
read after the digest is handed back ``Unshared``, not stored under it.)

Because a key names its content, an entry can never go stale, so each web process also
keeps the entries it used last in memory (``RENDER_CACHE_LOCAL_ENTRIES``, least recently used
dropped first): a hit there costs no Redis round trip and holds no state that could be wrong.
Renderings are shared, not copied: a value is bytes, strings or a tuple of them, or a dict
handed out read-only (``MappingProxyType``), so a hit costs no unpickling and no caller can
change what the next request gets.

With Redis unreachable the page is rendered as if the cache were off (never a 500).
``RENDER_CACHE=0`` turns it off (benchmarks compare both ways).
"""

import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import suppress
from types import MappingProxyType
from typing import TypeVar

import orjson
from django.conf import settings
from django.core.cache import caches

from .cache_errors import CACHE_ERRORS

T = TypeVar("T")

ALIAS = "render"


def render_cache_enabled() -> bool:
    return bool(getattr(settings, "RENDER_CACHE", True))


def render_key(kind: str, inputs: Hashable) -> str:
    """A cache key for a rendering of ``kind`` from ``inputs`` (a tuple of plain values: ints,
    strings, datetimes, booleans, None, nested tuples), digested as orjson encodes them — a
    fifth of what their ``repr`` cost (a datetime's is slow); anything else by its ``repr``."""
    try:
        encoded = orjson.dumps(inputs, default=repr)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits
        encoded = repr(inputs).encode()
    digest = hashlib.blake2b(encoded, digest_size=16).hexdigest()
    return f"r:{kind}:{digest}"


class LocalEntries:
    """Values this process used last, at most ``limit_setting`` of them, least recently used
    dropped first. Only for values whose key names their content, or whose validity is
    checked elsewhere on every use. ``copies``: kept pickled, so every caller gets a fresh
    copy it may change; without, values are kept and handed out as they are (immutable ones
    only: ``rendered_many`` freezes what it stores)."""

    def __init__(self, limit_setting: str, *, copies: bool = True):
        self._entries: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        self._limit_setting = limit_setting
        self._copies = copies

    def get_many(self, keys) -> dict:
        found = {}
        with self._lock:
            for key in keys:
                data = self._entries.get(key)
                if data is not None:
                    self._entries.move_to_end(key)
                    found[key] = data
        if not self._copies:
            return found
        return {key: pickle.loads(data) for key, data in found.items()}  # noqa: S301 - ours

    def set_many(self, values: dict) -> None:
        limit = getattr(settings, self._limit_setting)
        kept = values
        if self._copies:
            kept = {
                key: pickle.dumps(value, pickle.HIGHEST_PROTOCOL) for key, value in values.items()
            }
        with self._lock:
            for key, data in kept.items():
                self._entries[key] = data
                self._entries.move_to_end(key)
            while len(self._entries) > limit:
                self._entries.popitem(last=False)

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


local_entries = LocalEntries("RENDER_CACHE_LOCAL_ENTRIES", copies=False)


def _frozen(value):
    """``value`` as every request shares it: a dict read-only, anything else (bytes,
    strings, tuples of them) as it is."""
    return MappingProxyType(value) if type(value) is dict else value


class Unshared:
    """What a builder returns for a rendering that is for this request only: handed back
    (as ``value``) but not stored — e.g. one made from rows read after the key was (they may
    have changed in between, and the key must name what it holds)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _kept(built: dict) -> dict:
    return {key: value for key, value in built.items() if not isinstance(value, Unshared)}


def _unwrapped(value):
    return value.value if isinstance(value, Unshared) else _frozen(value)


def rendered_many(
    builders: dict[str, Callable[[], T]],
    *,
    prepare: Callable[[list[str]], None] | None = None,
) -> dict[str, T]:
    """The cached rendering for each key, building (and storing) the missing ones.

    This process's memory first, then one ``get_many`` and at most one ``set_many`` on the
    shared cache. Renderings are shared by every request, not copied: a dict comes back
    read-only; callers assemble their per-request output around them. ``prepare`` is
    called once with the keys about to be built, before any is (to load what they need in
    one query); a builder's ``Unshared`` value is returned but not stored.
    """
    if not builders:
        return {}

    def built(keys: list[str]) -> dict:
        if prepare is not None and keys:
            prepare(keys)
        return {key: builders[key]() for key in keys}

    if not render_cache_enabled():
        return {key: _unwrapped(value) for key, value in built(list(builders)).items()}
    found = local_entries.get_many(builders)
    wanted = [key for key in builders if key not in found]
    if not wanted:
        return found
    # A configuration without a "render" cache (e.g. one Redis only) shares the default one.
    cache = caches[ALIAS if ALIAS in settings.CACHES else "default"]
    try:
        shared = cache.get_many(wanted)
    except CACHE_ERRORS:
        return found | {key: _unwrapped(value) for key, value in built(wanted).items()}
    missing = built([key for key in wanted if key not in shared])
    kept = _kept(missing)
    if kept:
        # Unreachable: served uncached this time; the next request tries again.
        with suppress(*CACHE_ERRORS):
            cache.set_many(kept, timeout=settings.RENDER_CACHE_SECONDS)
    fetched = {key: _frozen(value) for key, value in (shared | kept).items()}
    local_entries.set_many(fetched)
    unshared = {key: value.value for key, value in missing.items() if key not in kept}
    return found | fetched | unshared

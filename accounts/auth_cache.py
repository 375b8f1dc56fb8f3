"""The way in without the ORM: a bearer token's hash → its token row, user and effective
tier (the API), and a session's user id → the user and effective tier (the web pages), cached.

An entry remembers the *generations* of what it was built from: its user's, its app's and
the site's (tier rows). Every change to those rows sets a new generation (signals for saves,
``auth_user_changed`` for queryset updates), so a revoked token, a suspended account or a new
tier stops working on the very next request. Generations are read before the rows are
loaded and set again after commit, so a request racing a change can only store an entry that
is already invalid. A missing generation never matches (entries are built only after their
generations exist), so an evicted or expired generation key is a miss, never a stale hit.

Each process also keeps the entries it used last in memory; their generations are still read
from the shared cache on every request (one round trip), so a local entry is exactly as
trustworthy as a shared one. Keys carry the token's SHA-256 hash, never the raw token.

With Redis unreachable every request authenticates from the database (never a 500);
``RENDER_CACHE=0`` does the same. ``AUTH_CACHE_SECONDS`` bounds an entry whose invalidation
was lost to a Redis outage, and a "new" account's entry never outlives the day it becomes
"unverified".
"""

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import uuid4

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction
from django.utils import timezone

from core.cache_errors import CACHE_ERRORS
from core.render_cache import LocalEntries, render_cache_enabled

from .models import ApiToken, Tier, User
from .selectors import effective_tier, token_authenticate
from .services import token_mark_used

_ENTRY = "auth:token:{}"
_SESSION_USER = "auth:session-user:{}"
_USER_GENERATION = "auth:gen:user:{}"
_APP_GENERATION = "auth:gen:app:{}"
_SITE_GENERATION = "auth:gen:site"
local_entries = LocalEntries("AUTH_CACHE_LOCAL_ENTRIES")


@dataclass
class _Entry:
    """A cached authentication: the token (with its user, app and tier attached), the
    generations it was built under, and when it stops being trusted."""

    token: ApiToken
    generation_keys: list[str]
    generations: list[str]
    valid_until: datetime


def _generation_keys(user_id: int | None, application_id: int | None) -> list[str]:
    keys = [_SITE_GENERATION]
    if user_id is not None:
        keys.append(_USER_GENERATION.format(user_id))
    if application_id is not None:
        keys.append(_APP_GENERATION.format(application_id))
    return keys


def _generations_ensure(keys: list[str]) -> list[str]:
    """The current generations of ``keys``, creating the missing ones."""
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        for key in missing:
            cache.add(key, uuid4().hex, timeout=_generation_seconds())
        found = cache.get_many(keys)
    return [found.get(key) for key in keys]


def _generation_seconds() -> int:
    # Longer than any entry lives; an expired generation only turns entries into misses.
    return 2 * settings.AUTH_CACHE_SECONDS


def _valid_until(user) -> datetime:
    now = timezone.now()
    until = now + timedelta(seconds=settings.AUTH_CACHE_SECONDS)
    if user is not None and effective_tier(user).slug == Tier.NEW:
        # The tier moves from "new" to "unverified" with the account's age, not with a write.
        until = min(until, user.date_joined + timedelta(days=settings.NEW_ACCOUNT_DAYS))
    return until


class AlongsideReads(Protocol):
    """Redis reads a caller wants made in the same round trip as a token's generation check
    (the home timeline's first slice: ``api.authentication``). ``queue`` adds them to a
    pipeline for the user the entry names, and says whether it did (not when they belong to
    another Redis); ``receive`` gets their answers, and only when the generations matched, so
    nothing is handed over for a user who is no longer trusted."""

    def queue(self, pipe, *, user_id: int) -> bool: ...

    def receive(self, results: list) -> None: ...


def _generations_current(keys: list[str], *, user_id, alongside: AlongsideReads | None):
    """The current generations of ``keys`` (None for a missing one): one ``get_many``, or, with
    ``alongside`` reads on a Redis cache, one pipeline carrying both. Returns the generations
    and the alongside answers (None when none were read)."""
    client = _redis_client() if alongside is not None and user_id is not None else None
    if client is None:
        found = cache.get_many(keys)
        return [found.get(key) for key in keys], None
    backend = caches["default"].client
    pipe = client.pipeline(transaction=False)
    pipe.mget([backend.make_key(key) for key in keys])
    queued = alongside.queue(pipe, user_id=user_id)
    raw, *answers = pipe.execute()
    current = [None if value is None else backend.decode(value) for value in raw]
    return current, (answers if queued else None)


def _redis_client():
    """The raw Redis client behind the default cache, or None when it is not django-redis."""
    backend = caches["default"]
    if not hasattr(backend, "client") or not hasattr(backend.client, "decode"):
        return None
    return backend.client.get_client(write=False)


def _entry_get(key: str, *, alongside: AlongsideReads | None = None):
    """The entry under ``key`` (this process's memory first) if it has not expired and its
    generations are still current, else None. ``alongside`` reads ride with the generation
    check of an entry found in memory (one round trip for both)."""
    entry = local_entries.get_many([key]).get(key)
    local = entry is not None
    if entry is None:
        entry = cache.get(key)
    if entry is None or timezone.now() >= entry.valid_until:
        return None
    user_id = getattr(getattr(entry, "token", None), "user_id", None) if local else None
    current, answers = _generations_current(
        entry.generation_keys, user_id=user_id, alongside=alongside
    )
    if current != entry.generations:
        local_entries.discard(key)
        return None
    if answers is not None:
        alongside.receive(answers)
    if not local:
        local_entries.set_many({key: entry})
    return entry


def _entry_put(key: str, entry) -> None:
    seconds = int((entry.valid_until - timezone.now()).total_seconds())
    if seconds > 0:
        cache.set(key, entry, timeout=seconds)
        local_entries.set_many({key: entry})


def _cached(token_hash: str, alongside: AlongsideReads | None = None) -> ApiToken | None:
    entry = _entry_get(_ENTRY.format(token_hash), alongside=alongside)
    return entry.token if entry is not None else None


def _load(raw: str, token_hash: str) -> ApiToken | None:
    """Authenticate from the database and remember the result under the generations read
    *before* the rows were loaded."""
    owner = (
        ApiToken.objects.filter(token_hash=token_hash).values_list("user_id", "application_id")
    ).first()
    if owner is None:
        return None
    keys = _generation_keys(*owner)
    generations = _generations_ensure(keys)
    token = token_authenticate(raw=raw)
    if token is None:
        return None
    if token.user is not None:
        effective_tier(token.user)  # attached to the user, so cached with it
    if (token.user_id, token.application_id) == owner:
        entry = _Entry(token, keys, generations, _valid_until(token.user))
        _entry_put(_ENTRY.format(token_hash), entry)
    return token


def api_token_authenticate(
    *, raw: str, ip: str | None, alongside: AlongsideReads | None = None
) -> ApiToken | None:
    """The active token whose secret is ``raw`` (with its user, app and effective tier), or
    None; records its use (``token_mark_used``). Served from the cache when it can be, with
    ``alongside`` reads made in the generation check's round trip when that is a pipeline
    (otherwise they are simply not made: the caller reads for itself)."""
    if not raw or len(raw) > 200:
        return None
    if not render_cache_enabled():
        token = token_authenticate(raw=raw)
        if token is not None:
            token_mark_used(token=token, ip=ip)
        return token
    token_hash = ApiToken.hash_secret(raw)
    try:
        token = _cached(token_hash, alongside) or _load(raw, token_hash)
    except CACHE_ERRORS:
        token = token_authenticate(raw=raw)
        if token is not None:
            token_mark_used(token=token, ip=ip)
        return token
    if token is None:
        return None
    used = (token.last_used_at, token.last_used_ip)
    token_mark_used(token=token, ip=ip)
    if (token.last_used_at, token.last_used_ip) != used:
        _usage_remember(token_hash, token)
    return token


# --- Session users: the web's way in, cached under the same generations as tokens. ---


@dataclass
class _UserEntry:
    """A cached session user (with the effective tier attached), the generations it was
    built under, and when it stops being trusted."""

    user: User
    generation_keys: list[str]
    generations: list[str]
    valid_until: datetime


def session_user_get(*, user_id, load: Callable[[], User | None]) -> User | None:
    """The active user a session names (``load`` reads it from the database: the auth
    backend's ``get_user``), with the effective tier attached; served from the cache while
    the user's and the site's generations are unchanged, so logout-everywhere changes
    (password, suspension, tier, verification, any save of the row) apply on the next
    request. A user ``load`` refuses (inactive, gone) is never cached."""
    if not render_cache_enabled():
        return load()
    key = _SESSION_USER.format(user_id)
    try:
        entry = _entry_get(key)
        if entry is not None:
            return entry.user
        keys = _generation_keys(user_id, None)
        generations = _generations_ensure(keys)
        user = load()
        if user is None:
            return None
        effective_tier(user)  # attached to the user, so cached with it
        _entry_put(key, _UserEntry(user, keys, generations, _valid_until(user)))
        return user
    except CACHE_ERRORS:
        return load()


def _usage_remember(token_hash: str, token: ApiToken) -> None:
    """Keep the cached token's last use current, so ``token_mark_used`` keeps writing at
    most once a minute. A concurrent invalidation still wins: the entry keeps its old
    generations."""
    key = _ENTRY.format(token_hash)
    with suppress(*CACHE_ERRORS):
        entry = local_entries.get_many([key]).get(key) or cache.get(key)
        if entry is None:
            return
        entry.token.last_used_at, entry.token.last_used_ip = token.last_used_at, token.last_used_ip
        _entry_put(key, entry)


def _generations_renew(keys: list[str]) -> None:
    """Give ``keys`` new generations now and again after commit: now, for whatever runs in
    this transaction; after commit, so that no request that read the old rows meanwhile can
    have stored an entry under the new generation."""

    def renew():
        with suppress(*CACHE_ERRORS):
            cache.set_many({key: uuid4().hex for key in keys}, timeout=_generation_seconds())

    renew()
    transaction.on_commit(renew)


def auth_user_changed(*, user_id: int) -> None:
    """Invalidate the cached authentications of ``user_id``'s tokens (call after any write to
    the user row that a save signal does not see, e.g. a queryset ``update``)."""
    _generations_renew([_USER_GENERATION.format(user_id)])


def auth_application_changed(*, application_id: int) -> None:
    """Invalidate the cached authentications of an OAuth app's tokens."""
    _generations_renew([_APP_GENERATION.format(application_id)])


def auth_site_changed() -> None:
    """Invalidate every cached authentication (a tier row changed, or every user at once)."""
    _generations_renew([_SITE_GENERATION])


# --- Signal receivers (connected in AccountsConfig.ready): invalidation only, no rules. ---


def user_saved(sender, instance, **kwargs) -> None:
    auth_user_changed(user_id=instance.pk)


def token_saved(sender, instance, **kwargs) -> None:
    if instance.user_id is not None:
        auth_user_changed(user_id=instance.user_id)
    if instance.application_id is not None:
        auth_application_changed(application_id=instance.application_id)


def application_saved(sender, instance, **kwargs) -> None:
    auth_application_changed(application_id=instance.pk)


def tier_saved(sender, instance, **kwargs) -> None:
    auth_site_changed()

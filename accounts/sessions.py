"""Sessions read through Redis and kept in the database (``SESSION_ENGINE`` with Redis).

Django's ``cached_db`` store, with two changes. An unreachable Redis never turns into a 500:
every cache call falls back to the database (Django's store raises when it refills the cache
or deletes from it). And a cached session lives at most ``AUTH_CACHE_SECONDS``, as the cached
users and tokens do: a logout whose cache delete was lost to an outage cannot keep the
session alive in Redis for its whole two weeks, only for that bound.
"""

from contextlib import suppress

from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.core.cache import caches

from core.cache_errors import CACHE_ERRORS


class SessionStore(CachedDBStore):
    """``cached_db`` that falls back to the database on Redis errors, with bounded entries."""

    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = caches[settings.SESSION_CACHE_ALIAS]

    def _cache_seconds(self, expiry=None) -> int:
        age = self.get_expiry_age() if expiry is None else self.get_expiry_age(expiry=expiry)
        return min(age, settings.AUTH_CACHE_SECONDS)

    def load(self):
        data = None
        with suppress(*CACHE_ERRORS):
            data = self._cache.get(self.cache_key)
        if data is not None:
            return data
        row = self._get_session_from_db()
        if row is None:
            return {}
        data = self.decode(row.session_data)
        with suppress(*CACHE_ERRORS):
            self._cache.set(self.cache_key, data, self._cache_seconds(row.expire_date))
        return data

    def exists(self, session_key):
        with suppress(*CACHE_ERRORS):
            if session_key and self._cache.has_key(self.cache_key_prefix + session_key):
                return True
        return DBStore.exists(self, session_key)

    def save(self, must_create=False):
        DBStore.save(self, must_create)
        with suppress(*CACHE_ERRORS):
            self._cache.set(self.cache_key, self._session, self._cache_seconds())

    def delete(self, session_key=None):
        DBStore.delete(self, session_key)
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        with suppress(*CACHE_ERRORS):
            self._cache.delete(self.cache_key_prefix + session_key)

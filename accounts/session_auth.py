"""``request.user`` for web sessions without a user query on every page.

Django's own ``AuthenticationMiddleware`` and ``auth.get_user`` find and check the session's
user: the backend named in the session, the session hash against the user's password,
fallback secrets, a flush when it does not verify. Only the row they check comes from the
cache: ``CachedUserBackend`` is Django's ``ModelBackend`` whose ``get_user`` reads through
``auth_cache.session_user_get``, under the generations every change to the user or the tiers
renews (a password change renews them, so the hash is checked against the new password).
Logging out deletes the session itself, so it needs no generation.
"""

from functools import partial

from django.contrib.auth.backends import ModelBackend

from .auth_cache import session_user_get


class CachedUserBackend(ModelBackend):
    """Django's ``ModelBackend`` (the same log-in and permissions) whose ``get_user`` —
    the active user a session names, or None — is served from the cache."""

    def get_user(self, user_id):
        return session_user_get(user_id=user_id, load=partial(super().get_user, user_id))

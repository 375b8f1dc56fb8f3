"""``request.user`` for web sessions without a user query on every page.

``SessionAuthenticationMiddleware`` replaces Django's ``AuthenticationMiddleware``: the same
lazy ``request.user``, looked up by ``session_user`` — Django's ``auth.get_user`` step for
step (the backend named in the session, the session hash checked against the user's
password, fallback secrets, a flush when it does not verify) — except that the user row comes
from ``auth_cache.session_user_get``, under the generations every change to the user or the
tiers renews. Logging out deletes the session itself, so it needs no generation.
"""

from functools import partial

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from .auth_cache import session_user_get


def session_user(request):
    """The user the request's session is logged in as, or ``AnonymousUser``."""
    try:
        user_id = auth._get_user_session_key(request)
        backend_path = request.session[auth.BACKEND_SESSION_KEY]
    except KeyError:
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    backend = auth.load_backend(backend_path)
    user = session_user_get(user_id=user_id, load=partial(backend.get_user, user_id))
    if user is None or not hasattr(user, "get_session_auth_hash"):
        return user or AnonymousUser()
    session_hash = request.session.get(auth.HASH_SESSION_KEY)
    current_hash = user.get_session_auth_hash()
    if session_hash and constant_time_compare(session_hash, current_hash):
        return user
    if session_hash and any(
        constant_time_compare(session_hash, fallback_hash)
        for fallback_hash in user.get_session_auth_fallback_hash()
    ):
        # Signed with a retired SECRET_KEY: move the session to the current one.
        request.session.cycle_key()
        request.session[auth.HASH_SESSION_KEY] = current_hash
        return user
    request.session.flush()
    return AnonymousUser()


class SessionAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's ``AuthenticationMiddleware`` with ``request.user`` from ``session_user``."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: session_user(request))

"""Tests for the web's cached way in (accounts.session_auth, accounts.auth_cache): a session's
user and tier come from the cache, the session itself from Redis (cached_db), and every
change that matters — logout, password, suspension, tier, verification, profile — is
effective on the very next page."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib import auth
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.moderation import user_suspend
from accounts.profiles import profile_update
from feeds import services as feeds_services
from tests.api.test_cache_outage import BrokenCache
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CACHED_DB = "accounts.sessions"


@pytest.fixture
def carol(settings):
    """A logged-in reader with one followed author's post on her home page. Sessions are
    cached_db here as they are with Redis (the embedded default keeps them in the database
    only: an in-process cache is not shared between processes)."""
    settings.SESSION_ENGINE = CACHED_DB
    user = UserFactory(username="carol", password="old-password-1")
    author = UserFactory(username="dave")
    feeds_services.follow_create(follower=user, followee=author)
    feeds_services.post_create(author=author, text="hello carol")
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def page(client, path="/"):
    response = client.get(path)
    assert response.status_code in (200, 302), response.status_code
    return response


def logged_in(client) -> bool:
    """True when the home page shows the reader's timeline (a logged-out visitor is sent to
    the public timeline)."""
    return page(client).status_code == 200


def budget(client) -> int:
    """The daily read budget of the reader's effective tier, as the home page says."""
    response = page(client)
    assert response.status_code == 200
    return int(response["X-RateLimit-Limit"])


def way_in_queries(client, path="/") -> list[str]:
    """The SQL a page runs to find its session, the reader's user row and tier."""
    with CaptureQueriesContext(connection) as queries:
        page(client, path)
    reader = f'FROM "accounts_user" WHERE "accounts_user"."id" = {client.user.pk} '
    return [
        q["sql"]
        for q in queries.captured_queries
        if any(table in q["sql"] for table in ('"django_session"', '"accounts_tier"'))
        or reader in q["sql"]
    ]


def test_a_warm_session_needs_no_session_user_or_tier_query(carol):
    """Ensures that once cached, a page finds its session, user and tier without a query."""
    assert way_in_queries(carol)  # cold: the session, the user, the tier
    assert way_in_queries(carol) == []
    assert way_in_queries(carol, "/public/") == []


def test_logout_ends_the_session_on_the_next_request(carol):
    """Ensures that after logging out, the old session cookie no longer logs anyone in,
    though its session and user were cached."""
    assert logged_in(carol)
    stolen = carol.cookies["sessionid"].value
    assert carol.post("/accounts/logout/").status_code == 302
    assert not logged_in(carol)
    replay = Client()
    replay.cookies["sessionid"] = stolen
    assert not logged_in(replay)


def test_a_password_change_logs_out_other_sessions_on_the_next_request(carol):
    """Ensures that changing the password (on the settings page) keeps this session and ends
    every other one at once, though their user was cached."""
    other = Client()
    other.force_login(carol.user)
    assert logged_in(carol) and logged_in(other)
    response = carol.post(
        "/accounts/settings/password/",
        {
            "old_password": "old-password-1",
            "new_password1": "a-new-Passw0rd-9",
            "new_password2": "a-new-Passw0rd-9",
        },
    )
    assert response.status_code == 302, response.content[:300]
    assert logged_in(carol)
    assert not logged_in(other)


def test_suspension_is_effective_on_the_next_request(carol):
    """Ensures that a suspended (inactive) user's cached session stops working at once."""
    assert logged_in(carol)
    user_suspend(user=carol.user, actor=None, reason="scraping")
    assert not logged_in(carol)


def test_a_profile_change_shows_on_the_next_page(carol):
    """Ensures that the reader's own name (the composer's heading) is fresh at once."""
    assert "What&#x27;s new, " in page(carol).content.decode()
    profile_update(user=carol.user, display_name="Carol Renamed")
    assert "What&#x27;s new, Carol Renamed?" in page(carol).content.decode()


def test_redis_down_authenticates_from_the_database(monkeypatch, carol):
    """Ensures that with the cache unreachable, sessions still work (the user from the
    database) and a suspended user is still refused: no 500, no stale answer."""
    assert logged_in(carol)
    monkeypatch.setattr("accounts.auth_cache.cache", BrokenCache())
    assert logged_in(carol)
    user_suspend(user=carol.user, actor=None, reason="scraping")
    assert not logged_in(carol)


def test_cache_off_reads_the_user_from_the_database(settings, carol):
    """Ensures that RENDER_CACHE=0 turns the session-user cache off too."""
    settings.RENDER_CACHE = False
    page(carol)
    assert any('"accounts_user"' in sql for sql in way_in_queries(carol))


def test_sessions_are_cached_only_with_redis(settings):
    """Ensures that sessions are read through the cache exactly when Redis is configured: an
    in-process cache would keep a logged-out session alive in the other processes."""
    expected = CACHED_DB if settings.REDIS_URL else "django.contrib.sessions.backends.db"
    assert expected == settings.SESSION_ENGINE


def test_a_session_from_a_retired_secret_key_moves_to_the_current_one(settings, carol):
    """Ensures that a session signed under a retired SECRET_KEY (in SECRET_KEY_FALLBACKS)
    still logs in, as Django's get_user allows, and is re-signed."""
    old_key = settings.SECRET_KEY
    assert logged_in(carol)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-rotated-secret-key-" * 3, [old_key]
    before = carol.cookies["sessionid"].value
    assert logged_in(carol)
    assert carol.cookies["sessionid"].value != before
    assert logged_in(carol)


def test_a_session_whose_hash_does_not_verify_is_flushed(carol):
    """Ensures that a session whose password hash no longer matches is ended, not trusted."""
    assert logged_in(carol)
    session = carol.session
    session["_auth_user_hash"] = "0" * 64
    session.save()
    assert not logged_in(carol)


def test_redis_down_logs_in_shows_pages_and_logs_out(monkeypatch, settings, carol):
    """Ensures that with the cache unreachable, logging in, reading a page and logging out
    all work from the database (never a 500), and the logged-out session stays out."""
    monkeypatch.setattr("accounts.sessions.caches", {settings.SESSION_CACHE_ALIAS: BrokenCache()})
    monkeypatch.setattr("accounts.auth_cache.cache", BrokenCache())
    client = Client()
    response = client.post("/accounts/login/", {"username": "carol", "password": "old-password-1"})
    assert response.status_code == 302, response.content[:300]
    assert logged_in(client)
    old = client.cookies["sessionid"].value
    assert client.post("/accounts/logout/").status_code == 302
    replay = Client()
    replay.cookies["sessionid"] = old
    assert not logged_in(replay)


def test_a_lost_logout_keeps_a_cached_session_only_for_the_auth_cache_bound(settings, carol):
    """Ensures that a session whose cache delete was lost (its row gone, the cached copy
    left) stops working once ``AUTH_CACHE_SECONDS`` have passed, not weeks later."""
    from django.contrib.sessions.models import Session
    from django.core.cache import caches

    assert logged_in(carol)
    Session.objects.all().delete()  # as a logout whose Redis delete failed
    assert logged_in(carol)  # the cached copy, for now
    cache = caches[settings.SESSION_CACHE_ALIAS]
    if hasattr(cache, "ttl"):  # Redis expires by its own clock, which time-machine cannot move
        key = f"django.contrib.sessions.cached_db{carol.cookies['sessionid'].value}"
        assert 0 < cache.ttl(key) <= settings.AUTH_CACHE_SECONDS
        return
    later = timezone.now() + timedelta(seconds=settings.AUTH_CACHE_SECONDS + 1)
    with time_machine.travel(later):
        assert not logged_in(carol)


def _stock_django(settings) -> dict:
    """The settings of Django's own way in, uncached: its middleware and its ModelBackend."""
    return {
        "AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend"],
        "MIDDLEWARE": [
            "django.contrib.auth.middleware.AuthenticationMiddleware"
            if name.endswith("AuthenticationMiddleware")
            else name
            for name in settings.MIDDLEWARE
        ],
    }


def _session_change(client, how: str, settings) -> dict:
    """Make the change ``how`` to the client's session or user; the settings it needs."""
    user, session = client.user, client.session
    if how == "password_changed":
        user.set_password("another-Passw0rd-3")
        user.save()
    elif how == "hash_mismatch":
        session[auth.HASH_SESSION_KEY] = "0" * 64
        session.save()
    elif how == "hash_missing":
        del session[auth.HASH_SESSION_KEY]
        session.save()
    elif how == "backend_removed":
        session[auth.BACKEND_SESSION_KEY] = "accounts.removed.Backend"
        session.save()
    elif how == "deactivated":
        user.is_active = False
        user.save()
    elif how == "deleted":
        user.delete()
    elif how == "secret_rotated":
        return {"SECRET_KEY": "rotated-key-" * 5, "SECRET_KEY_FALLBACKS": [settings.SECRET_KEY]}
    elif how == "secret_replaced":
        return {"SECRET_KEY": "replaced-key-" * 5, "SECRET_KEY_FALLBACKS": []}
    return {}


def _outcome(client) -> tuple[bool, bool, bool]:
    """(logged in, the session key changed, the old session row is gone), over two pages."""
    before = client.cookies["sessionid"].value
    let_in = (logged_in(client), logged_in(client))
    rekeyed = client.cookies["sessionid"].value != before
    return let_in, rekeyed, not Session.objects.filter(session_key=before).exists()


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("unchanged", ((True, True), False, False)),
        ("password_changed", ((False, False), True, True)),
        ("hash_mismatch", ((False, False), True, True)),
        ("hash_missing", ((False, False), True, True)),
        ("backend_removed", ((False, False), False, False)),
        ("deactivated", ((False, False), False, False)),
        ("deleted", ((False, False), False, False)),
        ("secret_rotated", ((True, True), True, True)),
        ("secret_replaced", ((False, False), True, True)),
    ],
)
def test_a_cached_session_is_checked_exactly_as_stock_django_checks_it(settings, how, expected):
    """Ensures that after each change to a session or its user (a changed password hash, a
    non-matching or missing HASH_SESSION_KEY, a removed backend, a deactivated or deleted
    user, a rotated or replaced SECRET_KEY) a warm cached session is let in, re-keyed or
    logged out exactly as Django's own middleware and ModelBackend do it, uncached."""
    settings.SESSION_ENGINE = CACHED_DB
    outcomes = {}
    for way_in, overrides in (("ours", {}), ("stock", _stock_django(settings))):
        with override_settings(**overrides):
            client = Client()
            client.user = UserFactory(password="old-password-1")
            client.force_login(client.user)
            assert logged_in(client) and logged_in(client)  # the cache is warm
            with override_settings(**_session_change(client, how, settings)):
                outcomes[way_in] = _outcome(client)
    assert outcomes == {"ours": expected, "stock": expected}


def test_the_session_user_is_checked_by_djangos_own_get_user(monkeypatch, carol):
    """Ensures that the web's session user comes from ``django.contrib.auth.get_user``
    itself (the cache sits in the backend's ``get_user``), so Django's session checks are
    never restated here to drift on an upgrade."""
    calls = []
    original = auth.get_user
    monkeypatch.setattr(auth, "get_user", lambda request: calls.append(1) or original(request))
    assert logged_in(carol)
    assert calls

"""Tests for the API's cached way in (accounts.auth_cache): a token's user and tier come
from the cache, and every change that matters is effective on the very next request."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiToken
from accounts.moderation import user_suspend
from accounts.oauth.services import application_suspend
from accounts.services import token_revoke
from feeds import services as feeds_services
from tests.api.conftest import make_caller
from tests.api.oauth_helpers import bearer, register
from tests.api.test_cache_outage import BrokenCache
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOME = "/api/v1/timelines/home"
ME = "/api/v1/accounts/verify_credentials"


def budget(caller) -> int:
    """The daily read budget the caller's effective tier gives, as the response says."""
    response = caller.client.get(HOME)
    assert response.status_code == 200
    return int(response["X-RateLimit-Limit"])


def auth_queries(caller, path=ME) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = caller.client.get(path)
    assert response.status_code == 200
    return [
        q["sql"]
        for q in queries.captured_queries
        if any(table in q["sql"] for table in ('"accounts_apitoken"', '"accounts_tier"'))
        or q["sql"].startswith('SELECT "accounts_user"')
    ]


@pytest.fixture
def caller(db):
    return make_caller(username="carol")


def test_a_warm_token_needs_no_query(caller):
    """Ensures that once cached, a token's user and tier cost no query (and its last use is
    written at most once a minute, not on every request)."""
    assert auth_queries(caller)  # cold: the token, the user, the tier
    assert auth_queries(caller) == []
    assert auth_queries(caller, HOME) == []


def test_the_cache_key_is_the_token_hash_never_the_raw_token(caller):
    """Ensures that the raw token appears in no cache key; its SHA-256 hash does."""
    caller.client.get(ME)
    # django-redis lists its keys; the embedded locmem backend keeps them in a dict.
    keys = list(cache.keys("*")) if hasattr(cache, "keys") else list(cache._cache)  # noqa: SLF001
    assert any(ApiToken.hash_secret(caller.raw) in key for key in keys)
    assert not any(caller.raw in key for key in keys)


def test_revocation_is_effective_on_the_next_request(caller):
    """Ensures that a revoked token is refused on the next request though it was cached."""
    assert caller.client.get(ME).status_code == 200
    token_revoke(token=ApiToken.objects.get(pk=caller.token.pk))
    assert caller.client.get(ME).status_code == 401


def test_suspension_is_effective_on_the_next_request(caller):
    """Ensures that a suspended (inactive) user's cached token is refused at once."""
    assert caller.client.get(ME).status_code == 200
    user_suspend(user=caller.user, actor=None, reason="scraping")
    assert caller.client.get(ME).status_code == 401


def test_a_suspended_app_is_refused_on_the_next_request(client):
    """Ensures that suspending an OAuth app stops its cached tokens at once."""
    from accounts.oauth.models import OAuthApplication
    from tests.api.test_oauth import _login

    client.force_login(UserFactory())
    app = register()
    raw = _login(client, app)
    assert bearer(raw).get(ME).status_code == 200
    row = OAuthApplication.objects.get(client_id=app["client_id"])
    application_suspend(application=row, actor=None, reason="scraping")
    assert bearer(raw).get(ME).status_code == 401


def test_counts_and_profile_are_fresh_on_the_next_request(caller):
    """Ensures that the caller's own account (verify_credentials) reflects a new follower and
    a new post at once, although it comes from the cached user."""
    assert caller.client.get(ME).json()["followers_count"] == 0
    feeds_services.follow_create(follower=UserFactory(), followee=caller.user)
    feeds_services.post_create(author=caller.user, text="hello")
    me = caller.client.get(ME).json()
    assert (me["followers_count"], me["statuses_count"]) == (1, 1)


def test_redis_down_authenticates_from_the_database(monkeypatch, caller):
    """Ensures that with the cache unreachable, tokens still work (from the database) and a
    revoked one is still refused: no 500, no stale answer."""
    monkeypatch.setattr("accounts.auth_cache.cache", BrokenCache())
    assert caller.client.get(ME).status_code == 200
    token_revoke(token=ApiToken.objects.get(pk=caller.token.pk))
    assert caller.client.get(ME).status_code == 401


def test_cache_off_authenticates_from_the_database(settings, caller):
    """Ensures that RENDER_CACHE=0 turns the token cache off too (what benchmarks compare)."""
    settings.RENDER_CACHE = False
    assert auth_queries(caller)
    assert auth_queries(caller)

"""Tests for the API's cached way in (accounts.auth_cache): a token's user and tier come
from the cache, and every change that matters is effective on the very next request."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiToken, Tier
from accounts.moderation import user_suspend, user_tier_override_set
from accounts.oauth.services import application_suspend
from accounts.services import token_revoke
from feeds import services as feeds_services
from tests.api.conftest import make_caller
from tests.api.oauth_helpers import bearer, register
from tests.api.test_cache_outage import BrokenCache
from tests.factories import UserFactory
from verification import services as verification

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


def test_admin_tier_change_is_effective_on_the_next_request(caller):
    """Ensures that an admin's tier override applies on the next request, and lifting it."""
    assert budget(caller) == Tier.objects.get(slug=Tier.NEW).daily_read_budget
    restricted = Tier.objects.get(slug=Tier.RESTRICTED)
    user_tier_override_set(user=caller.user, tier=restricted, actor=None, reason="bulk")
    assert budget(caller) == restricted.daily_read_budget
    user_tier_override_set(user=caller.user, tier=None, actor=None, reason="ok")
    assert budget(caller) == Tier.objects.get(slug=Tier.NEW).daily_read_budget


def test_a_tier_budget_edit_is_effective_on_the_next_request(caller):
    """Ensures that editing a tier's budget (a row, as the admin does) applies at once."""
    budget(caller)
    tier = Tier.objects.get(slug=Tier.NEW)
    tier.daily_read_budget = 123
    tier.save()
    assert budget(caller) == 123


def test_paid_verification_bought_and_lapsed_is_effective_on_the_next_request(settings, caller):
    """Ensures that verification (granted, or lapsing when its grace ends) changes the tier on
    the next request, though the cache entry would otherwise still be trusted."""
    settings.AUTH_CACHE_SECONDS = 365 * 24 * 60 * 60
    new = Tier.objects.get(slug=Tier.NEW).daily_read_budget
    verified = Tier.objects.get(slug=Tier.VERIFIED).daily_read_budget
    assert budget(caller) == new
    until = timezone.now() + timedelta(seconds=60)
    verification.verification_grant(user=caller.user, actor=None, reason="test", until=until)
    assert budget(caller) == verified
    grace = timedelta(days=settings.VERIFICATION_GRACE_DAYS)
    with time_machine.travel(until + grace + timedelta(seconds=30)):
        verification.subscriptions_expire()
        assert budget(caller) == new


def test_a_new_account_becomes_unverified_on_the_day_without_any_write(settings, caller):
    """Ensures that the account-age rule (new → unverified) applies on time although nothing
    is written: a "new" entry never outlives the account's newness."""
    settings.AUTH_CACHE_SECONDS = 10 * 24 * 60 * 60
    caller.user.date_joined = timezone.now() - timedelta(days=settings.NEW_ACCOUNT_DAYS, hours=-1)
    caller.user.save()
    assert budget(caller) == Tier.objects.get(slug=Tier.NEW).daily_read_budget
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert budget(caller) == Tier.objects.get(slug=Tier.UNVERIFIED).daily_read_budget


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

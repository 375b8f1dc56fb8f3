"""Tests that a tier change is effective on the very next request by both cached ways in —
a web session (accounts.session_auth) and an API token (accounts.auth_cache) — though
each caches the user and tier: the same four rules, run once per way in."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Tier
from accounts.moderation import user_tier_override_set
from tests.api.conftest import make_caller
from tests.factories import UserFactory
from verification import services as verification

pytestmark = pytest.mark.django_db


@dataclass
class Reader:
    user: object
    client: object
    path: str

    def budget(self) -> int:
        """The daily read budget of the effective tier, as the response's header says."""
        response = self.client.get(self.path)
        assert response.status_code == 200
        return int(response["X-RateLimit-Limit"])


@pytest.fixture(params=["session", "token"])
def reader(request, settings) -> Reader:
    if request.param == "session":
        # cached_db as with Redis (the embedded default keeps sessions in the database only).
        settings.SESSION_ENGINE = "accounts.sessions"
        user = UserFactory(username="carol")
        client = Client()
        client.force_login(user)
        return Reader(user, client, "/")
    caller = make_caller(username="carol")
    return Reader(caller.user, caller.client, "/api/v1/timelines/home")


def budget_of(slug: str) -> int:
    return Tier.objects.get(slug=slug).daily_read_budget


def test_admin_tier_change_is_effective_on_the_next_request(reader):
    """Ensures that an admin's tier override applies on the next request, and lifting it."""
    assert reader.budget() == budget_of(Tier.NEW)
    restricted = Tier.objects.get(slug=Tier.RESTRICTED)
    user_tier_override_set(user=reader.user, tier=restricted, actor=None, reason="bulk")
    assert reader.budget() == restricted.daily_read_budget
    user_tier_override_set(user=reader.user, tier=None, actor=None, reason="ok")
    assert reader.budget() == budget_of(Tier.NEW)


def test_a_tier_budget_edit_is_effective_on_the_next_request(reader):
    """Ensures that editing a tier's budget (a row, as the admin does) applies at once."""
    reader.budget()
    tier = Tier.objects.get(slug=Tier.NEW)
    tier.daily_read_budget = 123
    tier.save()
    assert reader.budget() == 123


def test_paid_verification_bought_and_lapsed_is_effective_on_the_next_request(settings, reader):
    """Ensures that verification (granted, or lapsing when its grace ends) changes the tier on
    the next request, though the cache entry would otherwise still be trusted."""
    settings.AUTH_CACHE_SECONDS = 365 * 24 * 60 * 60
    assert reader.budget() == budget_of(Tier.NEW)
    until = timezone.now() + timedelta(seconds=60)
    verification.verification_grant(user=reader.user, actor=None, reason="test", until=until)
    assert reader.budget() == budget_of(Tier.VERIFIED)
    grace = timedelta(days=settings.VERIFICATION_GRACE_DAYS)
    with time_machine.travel(until + grace + timedelta(seconds=30)):
        verification.subscriptions_expire()
        assert reader.budget() == budget_of(Tier.NEW)


def test_a_new_account_becomes_unverified_on_the_day_without_any_write(settings, reader):
    """Ensures that the account-age rule (new → unverified) applies on time although nothing
    is written: a "new" entry never outlives the account's newness."""
    settings.AUTH_CACHE_SECONDS = 10 * 24 * 60 * 60
    reader.user.date_joined = timezone.now() - timedelta(days=settings.NEW_ACCOUNT_DAYS, hours=-1)
    reader.user.save()
    assert reader.budget() == budget_of(Tier.NEW)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert reader.budget() == budget_of(Tier.UNVERIFIED)

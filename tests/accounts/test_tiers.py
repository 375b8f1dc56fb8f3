"""Tests for tier resolution: the one rule that decides an account's read budget."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import Tier
from accounts.selectors import effective_tier
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_seeded_tiers_have_the_design_budgets():
    """Ensures that the data migration seeds DESIGN.md's default budgets."""
    budgets = dict(Tier.objects.values_list("slug", "daily_read_budget"))
    assert budgets == {
        "anonymous": 100,
        "new": 500,
        "unverified": 1000,
        "verified": 10000,
        "restricted": 50,
        "unlimited": None,
    }


def test_anonymous_reader():
    """Ensures that logged-out readers (None or AnonymousUser) are in the anonymous tier."""
    assert effective_tier(None).slug == "anonymous"
    assert effective_tier(AnonymousUser()).slug == "anonymous"


def test_new_account_becomes_unverified_after_new_account_days(settings):
    """Ensures that an unverified account is "new" until NEW_ACCOUNT_DAYS have passed."""
    settings.NEW_ACCOUNT_DAYS = 30
    user = UserFactory()
    assert effective_tier(user).slug == "new"
    with time_machine.travel(timezone.now() + timedelta(days=30, seconds=1)):
        next_request_user = type(user).objects.get(pk=user.pk)
        assert effective_tier(next_request_user).slug == "unverified"


def test_precedence_override_staff_verified():
    """Ensures that admin override > staff > verified > age."""
    user = UserFactory(is_verified=True)
    assert effective_tier(user).slug == "verified"
    user = UserFactory(is_verified=True, is_staff=True)
    assert effective_tier(user).slug == "unlimited"
    restricted = Tier.objects.get(slug="restricted")
    user = UserFactory(is_verified=True, is_staff=True, tier_override=restricted)
    assert effective_tier(user).slug == "restricted"


def test_tier_is_cached_per_user_object_only():
    """Ensures that a budget change shows on the next request (a fresh user object)."""
    user = UserFactory()
    assert effective_tier(user).daily_read_budget == 500
    Tier.objects.filter(slug="new").update(daily_read_budget=7)
    assert effective_tier(user).daily_read_budget == 500  # same request: cached
    fresh = type(user).objects.get(pk=user.pk)
    assert effective_tier(fresh).daily_read_budget == 7

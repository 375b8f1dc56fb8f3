"""Tests for verification eligibility: every requirement, explained in words."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Tier
from tests.accounts.conftest import email_confirmed
from tests.factories import UserFactory
from verification.selectors import verification_eligibility

pytestmark = pytest.mark.django_db


def _codes(user) -> list[str]:
    return [requirement.code for requirement in verification_eligibility(user=user)]


def test_eligible_user_has_nothing_unmet(eligible_user):
    """Ensures that an account meeting every requirement gets an empty list."""
    assert verification_eligibility(user=eligible_user) == []


def test_new_account_lists_every_missing_requirement():
    """Ensures that a brand-new account without confirmed email or display name is told about
    each requirement, with a human explanation."""
    user = UserFactory(display_name="")
    unmet = verification_eligibility(user=user)
    assert [u.code for u in unmet] == ["email_unconfirmed", "account_too_new", "no_display_name"]
    assert user.email in unmet[0].message
    assert "7 days" in unmet[1].message


def test_account_age_requirement_is_met_after_the_setting(settings):
    """Ensures that the age requirement follows VERIFICATION_MIN_ACCOUNT_AGE_DAYS exactly."""
    settings.VERIFICATION_MIN_ACCOUNT_AGE_DAYS = 7
    user = UserFactory()
    email_confirmed(user)
    with time_machine.travel(timezone.now() + timedelta(days=7) - timedelta(seconds=1)):
        assert _codes(user) == ["account_too_new"]
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1)):
        assert _codes(user) == []


def test_restricted_account_is_not_eligible(eligible_user):
    """Ensures that an admin restriction (tier override "restricted") blocks verification."""
    eligible_user.tier_override = Tier.objects.get(slug="restricted")
    eligible_user.save()
    assert _codes(eligible_user) == ["restricted"]


def test_open_flag_hook_blocks_verification(eligible_user, monkeypatch):
    """Ensures that reasons from the open-scrape-flag hook are listed as unmet."""
    monkeypatch.setattr(
        "verification.selectors.verification_open_flag_reasons",
        lambda *, user: ["Unusual bulk reading was flagged on your account."],
    )
    unmet = verification_eligibility(user=eligible_user)
    assert [(u.code, u.message) for u in unmet] == [
        ("open_flag", "Unusual bulk reading was flagged on your account.")
    ]

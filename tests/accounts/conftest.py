"""Fixtures for the verification and payment tests: eligible accounts (Stripe's fakes are in
``tests/stripe_fakes.py``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import EmailConfirmation
from tests.factories import UserFactory


def email_confirmed(user) -> None:
    """Mark the account's current address as confirmed, as a used link would."""
    EmailConfirmation.objects.create(
        user=user,
        email=user.email,
        token_hash=f"{user.pk:064d}",
        expires_at=timezone.now() + timedelta(days=3),
        used_at=timezone.now(),
    )


@pytest.fixture
def eligible_user(db):
    """An account that meets every verification requirement: confirmed email, 10 days old,
    a display name, no restriction."""
    user = UserFactory(date_joined=timezone.now() - timedelta(days=10))
    email_confirmed(user)
    return user

"""Fixtures for the account tests, shared with verification's (its conftest imports them):
accounts eligible for verification, an admin's client, a sign-up form's data (Stripe's
fakes are in ``tests/stripe_fakes.py``)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import EmailConfirmation
from tests.factories import DEFAULT_PASSWORD, UserFactory


def email_confirmed(user) -> None:
    """Mark the account's current address as confirmed, as a used link would."""
    EmailConfirmation.objects.create(
        user=user,
        email=user.email,
        token_hash=f"{user.pk:064d}",
        expires_at=timezone.now() + timedelta(days=3),
        used_at=timezone.now(),
    )


def eligible_account(**fields):
    """A new account that meets every verification requirement: confirmed email, 10 days
    old, a display name, no restriction."""
    user = UserFactory(date_joined=timezone.now() - timedelta(days=10), **fields)
    email_confirmed(user)
    return user


@pytest.fixture
def eligible_user(db):
    """An account that meets every verification requirement (``eligible_account``)."""
    return eligible_account()


@pytest.fixture
def admin_client(db) -> Client:
    """A client logged in as a superuser, who is ``client.admin_user``."""
    client = Client()
    client.admin_user = UserFactory(username="root_admin", is_staff=True, is_superuser=True)
    client.force_login(client.admin_user)
    return client


def signup_data(**overrides) -> dict:
    """What the sign-up form posts for a valid new account, with ``overrides``."""
    return {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password1": DEFAULT_PASSWORD,
        "password2": DEFAULT_PASSWORD,
        **overrides,
    }

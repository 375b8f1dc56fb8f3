"""Fixtures for the verification and payment tests: eligible accounts and Stripe signing."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import EmailConfirmation
from tests.factories import UserFactory

STRIPE_TEST_WEBHOOK_SECRET = "whsec_test_only_not_a_real_secret"


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


def stripe_signature(payload: str, secret: str = STRIPE_TEST_WEBHOOK_SECRET, ts=None) -> str:
    """A Stripe-Signature header computed as Stripe does: t=<ts>,v1=HMAC-SHA256("<ts>.<body>")."""
    ts = int(time.time()) if ts is None else ts
    digest = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def stripe_event(event_id: str, event_type: str, obj: dict) -> str:
    """A Stripe event envelope around ``obj``, as JSON text."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    )

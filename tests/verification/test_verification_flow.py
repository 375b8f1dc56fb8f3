"""Tests for the verification pages with the dev provider, through the Django test client."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.selectors import effective_tier_slug
from tests.factories import UserFactory
from verification.models import Subscription

pytestmark = pytest.mark.django_db

STATUS_URL = "/accounts/settings/verification/"


@pytest.fixture
def buyer(client, eligible_user):
    client.force_login(eligible_user)
    return eligible_user


def _start_checkout(client) -> str:
    response = client.post(reverse("accounts:verification_checkout"))
    assert response.status_code == 302
    assert "/dev/checkout/" in response.url
    return response.url


def test_status_page_shows_price_checklist_and_button(client, buyer):
    """Ensures that the page shows the tier, the price, a met checklist and "Get verified"."""
    page = client.get(STATUS_URL).content.decode()
    assert "TEST MODE" in page
    assert "$8.00 / month" in page
    assert "You meet every requirement" in page
    assert "Get verified" in page
    assert "New" in page and "10,000" in page


def test_status_page_explains_unmet_requirements(client):
    """Ensures that an ineligible account sees each reason and no "Get verified" button."""
    user = UserFactory(display_name="")
    client.force_login(user)
    page = client.get(STATUS_URL).content.decode()
    assert "Confirm your email address" in page
    assert "at least 7 days old" in page
    assert "Set a display name" in page
    assert reverse("accounts:verification_checkout") not in page  # no "Get verified" button
    response = client.post(reverse("accounts:verification_checkout"))
    assert response.status_code == 302
    assert not Subscription.objects.exists()


def test_dev_checkout_pay_verifies_the_account(client, buyer):
    """Ensures that Pay on the TEST MODE checkout gives the badge and the verified tier."""
    checkout_url = _start_checkout(client)
    page = client.get(checkout_url).content.decode()
    assert "TEST MODE" in page
    for label in ("Pay", "Decline", "Cancel"):
        assert f">{label}</button>" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline scripts"

    response = client.post(checkout_url, {"outcome": "pay"})
    assert response.status_code == 302 and response.url == STATUS_URL
    user = User.objects.get(pk=buyer.pk)
    assert user.is_verified
    assert effective_tier_slug(user) == "verified"
    page = client.get(STATUS_URL).content.decode()
    assert "You are verified" in page
    assert "Renews" in page


@pytest.mark.parametrize("outcome", ["decline", "cancel"])
def test_dev_checkout_decline_or_cancel_does_not_verify(client, buyer, outcome):
    """Ensures that Decline and Cancel leave the account unverified, and the checkout closed."""
    checkout_url = _start_checkout(client)
    client.post(checkout_url, {"outcome": outcome})
    user = User.objects.get(pk=buyer.pk)
    assert not user.is_verified
    assert effective_tier_slug(user) == "new"
    # The closed checkout cannot be paid afterwards.
    client.post(checkout_url, {"outcome": "pay"})
    assert not User.objects.get(pk=buyer.pk).is_verified


def test_someone_elses_checkout_is_not_found(client, buyer):
    """Ensures that a checkout reference only works for the account that started it."""
    checkout_url = _start_checkout(client)
    client.force_login(UserFactory())
    assert client.get(checkout_url).status_code == 404
    assert client.post(checkout_url, {"outcome": "pay"}).status_code == 404
    assert not User.objects.get(pk=buyer.pk).is_verified


def test_dev_checkout_is_off_with_stripe(client, buyer, settings):
    """Ensures that the TEST MODE checkout does not exist when the provider is Stripe."""
    checkout_url = _start_checkout(client)
    settings.PAYMENTS_PROVIDER = "stripe"
    assert client.post(checkout_url, {"outcome": "pay"}).status_code == 404
    assert not User.objects.get(pk=buyer.pk).is_verified


def test_dev_checkout_requires_csrf(buyer):
    """Ensures that the Pay button is a CSRF-protected POST form."""
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(buyer)
    page = csrf_client.get(STATUS_URL).content.decode()
    assert "csrfmiddlewaretoken" in page
    assert csrf_client.post(reverse("accounts:verification_checkout")).status_code == 403


def test_cancel_from_the_page_keeps_badge_to_period_end(client, buyer):
    """Ensures that cancelling says until when the account stays verified, and keeps the badge."""
    client.post(_start_checkout(client), {"outcome": "pay"})
    response = client.post(reverse("accounts:verification_cancel"), follow=True)
    assert "You stay verified until" in response.content.decode()
    subscription = Subscription.objects.get(user=buyer)
    assert subscription.cancel_at_period_end
    assert subscription.current_period_end > timezone.now() + timedelta(days=29)
    assert User.objects.get(pk=buyer.pk).is_verified
    assert "Ends" in client.get(STATUS_URL).content.decode()


def test_simulated_failed_payment_shows_grace(client, buyer):
    """Ensures that the TEST MODE "failed payment" puts the subscription past due and the page
    says until when to fix it."""
    client.post(_start_checkout(client), {"outcome": "pay"})
    client.post(reverse("accounts:verification_dev_simulate"), {"event": "fail"})
    assert Subscription.objects.get(user=buyer).status == Subscription.Status.PAST_DUE
    assert "to keep your badge" in client.get(STATUS_URL).content.decode()
    client.post(reverse("accounts:verification_dev_simulate"), {"event": "renew"})
    assert Subscription.objects.get(user=buyer).status == Subscription.Status.ACTIVE


def test_pages_need_login(client):
    """Ensures that the verification pages send logged-out visitors to log in."""
    response = client.get(STATUS_URL)
    assert response.status_code == 302
    assert reverse("accounts:login") in response.url

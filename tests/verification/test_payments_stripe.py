"""Tests for the Stripe provider: checkout sessions through the SDK (HTTP faked, no network)
and signed webhooks applied exactly once."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.selectors import effective_tier_slug
from tests.stripe_fakes import (
    WEBHOOK_URL,
    checkout_completed_event,
    invoice_event,
    stripe_configure,
    stripe_event,
    stripe_signature,
    subscription_deleted_event,
    webhook_post,
)
from verification import services
from verification.models import PaymentWebhookEvent, Subscription

pytestmark = pytest.mark.django_db

S = Subscription.Status


@pytest.fixture
def fake_stripe(settings, monkeypatch):
    """Stripe as the provider, its HTTP answered by canned responses (see stripe_fakes)."""
    return stripe_configure(
        settings,
        monkeypatch,
        {
            "/v1/checkout/sessions": (
                200,
                {"id": "cs_test_1", "object": "checkout.session", "url": "https://pay.test/cs_1"},
            ),
            "/v1/billing_portal/sessions": (
                200,
                {"id": "bps_1", "object": "billing_portal.session", "url": "https://pay.test/p"},
            ),
            "/v1/subscriptions/sub_1": (200, {"id": "sub_1", "object": "subscription"}),
        },
    )


@pytest.fixture
def pending(fake_stripe, eligible_user) -> Subscription:
    subscription, _ = services.subscription_checkout_start(user=eligible_user)
    return subscription


def _completed(subscription: Subscription, event_id: str = "evt_completed") -> str:
    return checkout_completed_event(
        event_id,
        session="cs_test_1",
        reference=subscription.checkout_ref,
        metadata={"subscription_id": str(subscription.pk)},
        customer="cus_1",
        subscription="sub_1",
    )


def _invoice(event_id: str, event_type: str, subscription: Subscription, period_end: int) -> str:
    return invoice_event(
        event_id,
        event_type,
        subscription="sub_1",
        metadata={"subscription_id": str(subscription.pk)},
        customer="cus_1",
        period_end=period_end,
    )


def test_checkout_creates_a_stripe_session(pending, fake_stripe, eligible_user):
    """Ensures that checkout asks Stripe (through the SDK) for a subscription-mode session at
    the plan's price, tagged with our subscription, and sends the buyer to its URL."""
    method, path, form = fake_stripe.requests[0]
    assert (method, path) == ("post", "/v1/checkout/sessions")
    assert form["mode"] == ["subscription"]
    assert form["line_items[0][price_data][unit_amount]"] == ["800"]
    assert form["line_items[0][price_data][currency]"] == ["usd"]
    assert form["line_items[0][price_data][recurring][interval]"] == ["month"]
    assert form["metadata[subscription_id]"] == [str(pending.pk)]
    assert form["subscription_data[metadata][subscription_id]"] == [str(pending.pk)]
    assert form["customer_email"] == [eligible_user.email]
    assert form["success_url"][0].endswith("/return/?session_id={CHECKOUT_SESSION_ID}")
    pending.refresh_from_db()
    assert pending.provider == "stripe"
    assert pending.provider_checkout_id == "cs_test_1"


def test_checkout_view_redirects_to_stripe(client, fake_stripe, eligible_user):
    """Ensures that "Get verified" sends the buyer to the Stripe Checkout URL."""
    client.force_login(eligible_user)
    response = client.post(reverse("accounts:verification_checkout"))
    assert response.status_code == 302
    assert response.url == "https://pay.test/cs_1"


def test_checkout_error_is_explained(fake_stripe, eligible_user):
    """Ensures that a Stripe error becomes a message a person understands, and the pending
    subscription is closed."""
    fake_stripe.responses["/v1/checkout/sessions"] = (
        400,
        {"error": {"type": "invalid_request_error", "message": "No such price"}},
    )
    with pytest.raises(ValidationError, match="try again"):
        services.subscription_checkout_start(user=eligible_user)
    assert Subscription.objects.get().status == S.CHECKOUT_CANCELED


def test_checkout_completed_activates(client, pending, eligible_user):
    """Ensures that a signed checkout.session.completed makes the account verified."""
    response = webhook_post(client, payload := _completed(pending), stripe_signature(payload))
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    pending.refresh_from_db()
    assert pending.status == S.ACTIVE
    assert (pending.provider_customer_id, pending.provider_subscription_id) == ("cus_1", "sub_1")
    user = User.objects.get(pk=eligible_user.pk)
    assert user.is_verified
    assert effective_tier_slug(user) == "verified"


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "garbage",
        "t=123,v1=deadbeef",
        "wrong-secret",
        "too-old",
    ],
)
def test_bad_signature_is_rejected_and_changes_nothing(client, pending, eligible_user, signature):
    """Ensures that a missing, malformed, forged or stale signature gets 400 and no change."""
    payload = _completed(pending)
    if signature == "wrong-secret":
        signature = stripe_signature(payload, secret="whsec_someone_else")
    elif signature == "too-old":
        signature = stripe_signature(payload, ts=int(time.time()) - 3600)
    response = webhook_post(client, payload, signature)
    assert response.status_code == 400
    pending.refresh_from_db()
    assert pending.status == S.PENDING
    assert not User.objects.get(pk=eligible_user.pk).is_verified
    assert not PaymentWebhookEvent.objects.exists()


def test_tampered_payload_is_rejected(client, pending):
    """Ensures that a body changed after signing fails the check."""
    payload = _completed(pending)
    signature = stripe_signature(payload)
    tampered = payload.replace('"paid"', '"paid" ')
    assert webhook_post(client, tampered, signature).status_code == 400


def test_webhook_is_post_only(client, fake_stripe):
    """Ensures that the webhook answers only POST."""
    assert client.get(WEBHOOK_URL).status_code == 405


def test_replayed_event_changes_nothing(client, pending, eligible_user):
    """Ensures that an event replayed after later changes does not undo them."""
    completed = _completed(pending)
    assert webhook_post(client, completed, stripe_signature(completed)).status_code == 200
    deleted = subscription_deleted_event("evt_deleted", subscription="sub_1")
    assert webhook_post(client, deleted, stripe_signature(deleted)).status_code == 200
    pending.refresh_from_db()
    assert pending.status == S.ENDED
    assert not User.objects.get(pk=eligible_user.pk).is_verified

    response = webhook_post(client, completed, stripe_signature(completed))
    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    pending.refresh_from_db()
    assert pending.status == S.ENDED
    assert not User.objects.get(pk=eligible_user.pk).is_verified
    assert PaymentWebhookEvent.objects.count() == 2


def test_invoice_paid_renews_to_the_invoiced_period(client, pending):
    """Ensures that invoice.paid sets the period end from the invoice line."""
    completed = _completed(pending)
    webhook_post(client, completed, stripe_signature(completed))
    period_end = int((timezone.now() + timedelta(days=60)).timestamp())
    paid = _invoice("evt_paid_2", "invoice.paid", pending, period_end)
    assert webhook_post(client, paid, stripe_signature(paid)).status_code == 200
    pending.refresh_from_db()
    assert pending.status == S.ACTIVE
    assert pending.current_period_end == datetime.fromtimestamp(period_end, tz=UTC)


def test_invoice_paid_before_checkout_event_activates(client, pending, eligible_user):
    """Ensures that the first invoice.paid activates even if it arrives before
    checkout.session.completed (Stripe does not guarantee order), found by metadata."""
    period_end = int((timezone.now() + timedelta(days=30)).timestamp())
    paid = _invoice("evt_paid_1", "invoice.paid", pending, period_end)
    assert webhook_post(client, paid, stripe_signature(paid)).status_code == 200
    pending.refresh_from_db()
    assert pending.status == S.ACTIVE
    assert pending.provider_subscription_id == "sub_1"
    assert User.objects.get(pk=eligible_user.pk).is_verified


def test_invoice_paid_with_pre_2025_shape(client, pending):
    """Ensures that invoices carrying the older top-level "subscription" field still renew."""
    completed = _completed(pending)
    webhook_post(client, completed, stripe_signature(completed))
    period_end = int((timezone.now() + timedelta(days=45)).timestamp())
    payload = stripe_event(
        "evt_old",
        "invoice.paid",
        {
            "id": "in_old",
            "object": "invoice",
            "subscription": "sub_1",
            "lines": {"data": [{"period": {"end": period_end}}]},
        },
    )
    assert webhook_post(client, payload, stripe_signature(payload)).status_code == 200
    pending.refresh_from_db()
    assert pending.current_period_end == datetime.fromtimestamp(period_end, tz=UTC)


def test_payment_failed_then_grace_then_lapse(client, pending, eligible_user, settings):
    """Ensures that invoice.payment_failed starts the grace period, its replay does not extend
    it, and the expiry task lapses the subscription after it."""
    settings.VERIFICATION_GRACE_DAYS = 3
    completed = _completed(pending)
    webhook_post(client, completed, stripe_signature(completed))
    failed = _invoice("evt_failed", "invoice.payment_failed", pending, 0)
    assert webhook_post(client, failed, stripe_signature(failed)).status_code == 200
    pending.refresh_from_db()
    assert pending.status == S.PAST_DUE
    grace_until = pending.grace_until
    assert User.objects.get(pk=eligible_user.pk).is_verified

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert webhook_post(client, failed, stripe_signature(failed)).json()["duplicate"] is True
        pending.refresh_from_db()
        assert pending.grace_until == grace_until

    with time_machine.travel(grace_until + timedelta(seconds=1)):
        services.subscriptions_expire()
        pending.refresh_from_db()
        assert pending.status == S.LAPSED
        assert not User.objects.get(pk=eligible_user.pk).is_verified


def test_a_failure_delivered_after_its_invoice_was_paid_changes_nothing(
    client, pending, eligible_user
):
    """Ensures that invoice.payment_failed for a period already paid (Stripe does not
    guarantee order: a failed attempt delivered after the retry that succeeded) leaves the
    subscription active, without a grace period."""
    completed = _completed(pending)
    webhook_post(client, completed, stripe_signature(completed))
    pending.refresh_from_db()
    renewed_to = (pending.current_period_end + timedelta(days=30)).replace(microsecond=0)
    with time_machine.travel(pending.current_period_end + timedelta(hours=3)):
        paid = _invoice("evt_paid_2", "invoice.paid", pending, int(renewed_to.timestamp()))
        failed = _invoice(
            "evt_failed_2", "invoice.payment_failed", pending, int(renewed_to.timestamp())
        )
        for payload in (paid, failed):
            assert webhook_post(client, payload, stripe_signature(payload)).status_code == 200
        pending.refresh_from_db()
        assert (pending.status, pending.grace_until) == (S.ACTIVE, None)
        assert pending.current_period_end == renewed_to
        assert User.objects.get(pk=eligible_user.pk).is_verified


def test_a_late_failure_grants_no_fresh_grace(client, pending, eligible_user, settings):
    """Ensures that invoice.payment_failed delivered after the period ended longer ago than
    the grace period (the expiry job not run yet) lapses the subscription instead of granting
    VERIFICATION_GRACE_DAYS from now, and that its replay changes nothing."""
    settings.VERIFICATION_GRACE_DAYS = 3
    completed = _completed(pending)
    webhook_post(client, completed, stripe_signature(completed))
    pending.refresh_from_db()
    period_end = pending.current_period_end
    failed = _invoice(
        "evt_failed_late",
        "invoice.payment_failed",
        pending,
        int((period_end + timedelta(days=30)).timestamp()),
    )
    with time_machine.travel(period_end + timedelta(days=5)):
        assert webhook_post(client, failed, stripe_signature(failed)).status_code == 200
        pending.refresh_from_db()
        assert (pending.status, pending.grace_until) == (S.LAPSED, period_end + timedelta(days=3))
        assert not User.objects.get(pk=eligible_user.pk).is_verified
        assert webhook_post(client, failed, stripe_signature(failed)).json()["duplicate"] is True
        pending.refresh_from_db()
        assert pending.status == S.LAPSED


def test_unknown_event_is_acknowledged(client, fake_stripe):
    """Ensures that events we do not handle are acknowledged (200) so Stripe stops retrying."""
    payload = stripe_event("evt_other", "customer.created", {"id": "cus_9", "object": "customer"})
    assert webhook_post(client, payload, stripe_signature(payload)).status_code == 200


def test_cancel_and_portal_go_through_stripe(client, pending, fake_stripe, eligible_user):
    """Ensures that cancelling asks Stripe to stop at period end, and "Manage billing" opens
    the customer portal for the subscriber's Stripe customer."""
    completed = _completed(pending)
    webhook_post(client, completed, stripe_signature(completed))
    client.force_login(eligible_user)
    client.post(reverse("accounts:verification_cancel"))
    method, path, form = fake_stripe.requests[-1]
    assert (method, path, form) == (
        "post",
        "/v1/subscriptions/sub_1",
        {"cancel_at_period_end": ["true"]},
    )
    pending.refresh_from_db()
    assert pending.cancel_at_period_end
    assert User.objects.get(pk=eligible_user.pk).is_verified

    response = client.post(reverse("accounts:verification_portal"))
    assert response.url == "https://pay.test/p"
    assert fake_stripe.requests[-1][2]["customer"] == ["cus_1"]


def test_stripe_without_keys_refuses_to_start():
    """Ensures that PAYMENTS_PROVIDER=stripe without its keys stops at start-up with a clear
    message, and that an unknown provider is refused too."""
    import os
    import subprocess
    import sys

    for env in ({"PAYMENTS_PROVIDER": "stripe"}, {"PAYMENTS_PROVIDER": "paypal"}):
        result = subprocess.run(
            [sys.executable, "-c", "import microblog.settings"],
            env={**os.environ, "DEBUG": "1", "STRIPE_SECRET_KEY": "", **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr
        assert "PAYMENTS_PROVIDER" in result.stderr


def test_one_rule_moves_a_paid_period_for_every_owner():
    """Ensures that a paid invoice's effect is decided in one place: a sale it starts is
    activated with the invoiced period and Stripe's ids; another is renewed to the invoice's
    period end, and left alone when the invoice names none."""
    from verification.payments.stripe_events import InvoicePayment, paid_period_move

    end = int(datetime(2027, 1, 10, tzinfo=UTC).timestamp())
    payment = InvoicePayment.from_invoice(
        json.loads(
            invoice_event(
                "evt_x",
                "invoice.paid",
                subscription="sub_x",
                metadata={"licence_id": "7"},
                customer="cus_x",
                period_end=end,
                reason="subscription_create",
            )
        )["data"]["object"]
    )
    assert (payment.stripe_subscription_id, payment.metadata, payment.first) == (
        "sub_x",
        {"licence_id": "7"},
        True,
    )
    calls = []
    for starts in (True, False):
        paid_period_move(
            payment,
            starts=starts,
            activate=lambda **kw: calls.append(("activate", kw)),
            renew=lambda **kw: calls.append(("renew", kw)),
        )
    period_end = datetime.fromtimestamp(end, tz=UTC)
    assert calls == [
        (
            "activate",
            {
                "period_end": period_end,
                "provider_customer_id": "cus_x",
                "provider_subscription_id": "sub_x",
            },
        ),
        ("renew", {"period_end": period_end}),
    ]
    no_end = InvoicePayment.from_invoice({"id": "in_y", "subscription": "sub_y"})
    paid_period_move(no_end, starts=False, activate=calls.append, renew=calls.append)
    assert len(calls) == 2

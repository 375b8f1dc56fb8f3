"""Stripe as the tests see it, for paid verification and data licences alike: the real SDK over
a faked HTTP client (no request leaves), signed webhook events built as Stripe builds them,
and the one webhook URL both products' events arrive at."""

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs

import stripe
from django.test import Client

from verification.payments.stripe_provider import StripeProvider

STRIPE_TEST_WEBHOOK_SECRET = "whsec_test_only_not_a_real_secret"
STRIPE_TEST_SECRET_KEY = "sk_test_fake_key_for_tests"
WEBHOOK_URL = "/accounts/settings/verification/stripe/webhook/"


class FakeStripeHttp(stripe.HTTPClient):
    """Stands in for the network under the real SDK: records requests, returns canned JSON."""

    name = "fake"

    def __init__(self, responses: dict[str, tuple[int, dict]]):
        super().__init__()
        self.responses = responses
        self.requests: list[tuple[str, str, dict]] = []

    def request(self, method, url, headers, post_data=None):
        path = url.split("api.stripe.com", 1)[-1]
        self.requests.append((method, path, parse_qs(post_data or "")))
        status, body = self.responses[path]
        return json.dumps(body), status, {}


def stripe_configure(settings, monkeypatch, responses: dict[str, tuple[int, dict]]):
    """Make Stripe the payment provider, with test keys, answering ``responses`` by path."""
    settings.PAYMENTS_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = STRIPE_TEST_SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_TEST_WEBHOOK_SECRET
    http = FakeStripeHttp(responses)
    monkeypatch.setattr(StripeProvider, "http_client", http)
    return http


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


def checkout_completed_event(
    event_id: str, *, session: str, reference: str, metadata: dict, customer: str, subscription: str
) -> str:
    """``checkout.session.completed`` for a paid subscription-mode session."""
    return stripe_event(
        event_id,
        "checkout.session.completed",
        {
            "id": session,
            "object": "checkout.session",
            "client_reference_id": reference,
            "metadata": metadata,
            "customer": customer,
            "subscription": subscription,
            "payment_status": "paid",
        },
    )


def invoice_event(
    event_id: str,
    event_type: str,
    *,
    subscription: str,
    metadata: dict,
    customer: str,
    period_end: int,
    reason: str | None = None,
) -> str:
    """An invoice event (``invoice.paid``, ``invoice.payment_failed``) in the 2025 shape: the
    subscription and its metadata under ``parent``, one line for a 30-day period to
    ``period_end`` (a Unix time)."""
    invoice = {
        "id": f"in_{event_id}",
        "object": "invoice",
        "customer": customer,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription, "metadata": metadata},
        },
        "lines": {"data": [{"period": {"start": period_end - 30 * 86400, "end": period_end}}]},
    }
    if reason is not None:
        invoice["billing_reason"] = reason
    return stripe_event(event_id, event_type, invoice)


def subscription_deleted_event(event_id: str, *, subscription: str) -> str:
    """``customer.subscription.deleted``: the subscription has ended."""
    return stripe_event(
        event_id,
        "customer.subscription.deleted",
        {"id": subscription, "object": "subscription", "metadata": {}},
    )


def webhook_post(client, payload: str, signature: str | None = None):
    """POST ``payload`` to the Stripe webhook with ``signature`` (None: no header)."""
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(WEBHOOK_URL, payload, content_type="application/json", **headers)


def webhook_send(payload: str):
    """POST ``payload`` to the webhook, signed as Stripe signs it, from a fresh client."""
    return webhook_post(Client(), payload, stripe_signature(payload))

"""Stripe Checkout for data plans, through the same Stripe client as verification.

The licence is activated when the buyer comes back from Checkout and Stripe confirms that
session was paid (``licence_stripe_return``): the session is fetched from Stripe by id, never
trusted from the query string. Renewals and cancellations by webhook are not handled yet
(docs/licensing.md).
"""

import logging

import stripe

from verification.payments import PaymentProviderError
from verification.payments.stripe_provider import StripeProvider

from .models import Licence

logger = logging.getLogger(__name__)


def _client() -> stripe.StripeClient:
    return StripeProvider().client()


def licence_stripe_checkout_start(*, licence: Licence, success_url: str, cancel_url: str) -> str:
    """A Checkout Session selling the licence's plan monthly; returns the URL to send to."""
    plan = licence.plan
    if plan.stripe_price_id:
        line_item = {"price": plan.stripe_price_id, "quantity": 1}
    else:
        line_item = {
            "quantity": 1,
            "price_data": {
                "currency": plan.currency.lower(),
                "unit_amount": plan.price_minor,
                "recurring": {"interval": "month"},
                "product_data": {"name": f"{plan.name} data plan"},
            },
        }
    metadata = {"licence_id": str(licence.pk)}
    params = {
        "mode": "subscription",
        "line_items": [line_item],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": licence.checkout_ref,
        "customer_email": licence.user.email,
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
    }
    try:
        session = _client().v1.checkout.sessions.create(
            params, {"idempotency_key": f"licence-checkout-{licence.checkout_ref}"}
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe checkout creation for a licence failed: %s", exc)
        raise PaymentProviderError(
            "The payment provider is not reachable right now. Please try again in a minute."
        ) from exc
    licence.provider_checkout_id = session.id
    licence.save(update_fields=["provider_checkout_id"])
    return session.url


def licence_stripe_session_paid(*, licence: Licence, session_id: str) -> bool:
    """Whether Stripe says ``session_id`` is this licence's checkout and it was paid."""
    if not session_id or session_id != licence.provider_checkout_id:
        return False
    try:
        session = _client().v1.checkout.sessions.retrieve(session_id)
    except stripe.StripeError as exc:
        logger.warning("Stripe session lookup failed: %s", exc)
        raise PaymentProviderError(
            "We could not confirm the payment with the provider yet. Reload in a minute."
        ) from exc
    data = session.to_dict()
    return (
        data.get("client_reference_id") == licence.checkout_ref
        and data.get("payment_status") == "paid"
    )

"""The Stripe provider: Checkout Sessions, the customer portal and subscription changes,
through the official SDK. Payment confirmations arrive as signed webhooks (stripe_events.py).

The module-level functions are the one Stripe path for everything sold monthly through Stripe:
verification (``StripeProvider``) and the licensed lane's data plans (licensing/) both sell
through ``stripe_checkout_session_create`` and stop renewals through
``stripe_subscription_cancel_at_period_end``.
"""

import logging
from dataclasses import dataclass

import stripe
from django.conf import settings

from verification.models import Subscription

from .base import PaymentProviderError

logger = logging.getLogger(__name__)

UNREACHABLE = "The payment provider is not reachable right now. Please try again in a minute."


@dataclass(frozen=True)
class StripeSale:
    """What one Checkout Session sells: a recurring price, and how its events find our row.

    ``metadata`` is copied onto the Stripe subscription too, so every later invoice and
    subscription event carries it back to the row that bought it.
    """

    reference: str  # our checkout_ref: Stripe's client_reference_id
    product_name: str
    price_minor: int
    currency: str
    interval: str
    metadata: dict
    stripe_price_id: str = ""
    customer_id: str = ""
    customer_email: str = ""


def stripe_client() -> stripe.StripeClient:
    """The SDK client on STRIPE_SECRET_KEY (tests swap ``StripeProvider.http_client``)."""
    if not settings.STRIPE_SECRET_KEY:
        raise PaymentProviderError("Payments are not configured (STRIPE_SECRET_KEY).")
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, http_client=StripeProvider.http_client, max_network_retries=2
    )


def stripe_checkout_session_create(
    *, sale: StripeSale, success_url: str, cancel_url: str, idempotency_key: str
):
    """A Checkout Session selling ``sale`` as a subscription; returns the SDK's session."""
    if sale.stripe_price_id:
        line_item = {"price": sale.stripe_price_id, "quantity": 1}
    else:
        line_item = {
            "quantity": 1,
            "price_data": {
                "currency": sale.currency.lower(),
                "unit_amount": sale.price_minor,
                "recurring": {"interval": sale.interval},
                "product_data": {"name": sale.product_name},
            },
        }
    params = {
        "mode": "subscription",
        "line_items": [line_item],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": sale.reference,
        "metadata": sale.metadata,
        # Copied onto the Stripe subscription, so its invoices lead back to our row too.
        "subscription_data": {"metadata": sale.metadata},
    }
    if sale.customer_id:
        params["customer"] = sale.customer_id
    elif sale.customer_email:
        params["customer_email"] = sale.customer_email
    try:
        return stripe_client().v1.checkout.sessions.create(
            params, {"idempotency_key": idempotency_key}
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe checkout creation failed: %s", exc)
        raise PaymentProviderError(UNREACHABLE) from exc


def stripe_checkout_session_get(session_id: str) -> dict:
    """A Checkout Session as Stripe has it now (never trusted from a query string)."""
    try:
        return stripe_client().v1.checkout.sessions.retrieve(session_id).to_dict()
    except stripe.StripeError as exc:
        logger.warning("Stripe session lookup failed: %s", exc)
        raise PaymentProviderError(
            "We could not confirm the payment with the provider yet. Reload in a minute."
        ) from exc


def stripe_subscription_cancel_at_period_end(stripe_subscription_id: str) -> None:
    """Stop renewing a Stripe subscription: it stays paid up to the end of its period."""
    if not stripe_subscription_id:
        return
    try:
        stripe_client().v1.subscriptions.update(
            stripe_subscription_id, {"cancel_at_period_end": True}
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe cancel failed: %s", exc)
        raise PaymentProviderError(
            "We could not reach the payment provider to cancel. Nothing changed; "
            "please try again in a minute."
        ) from exc


class StripeProvider:
    """Sells the plan as a Stripe subscription (mode="subscription") via Stripe Checkout."""

    name = Subscription.PROVIDER_STRIPE
    # Tests set a fake stripe HTTPClient here so the SDK builds real requests but none leaves.
    http_client: "stripe.HTTPClient | None" = None

    def client(self) -> stripe.StripeClient:
        return stripe_client()

    def checkout_start(
        self, *, subscription: Subscription, success_url: str, cancel_url: str
    ) -> str:
        plan = subscription.plan
        sale = StripeSale(
            reference=subscription.checkout_ref,
            product_name=plan.name,
            price_minor=plan.price_minor,
            currency=plan.currency,
            interval=plan.interval,
            stripe_price_id=plan.stripe_price_id,
            metadata={"subscription_id": str(subscription.pk)},
            customer_id=subscription.provider_customer_id,
            customer_email=subscription.user.email,
        )
        session = stripe_checkout_session_create(
            sale=sale,
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"checkout-{subscription.checkout_ref}",
        )
        subscription.provider_checkout_id = session.id
        subscription.save(update_fields=["provider_checkout_id", "updated_at"])
        return session.url

    def portal_url(self, *, subscription: Subscription, return_url: str) -> str | None:
        if not subscription.provider_customer_id:
            return None
        try:
            portal = self.client().v1.billing_portal.sessions.create(
                {"customer": subscription.provider_customer_id, "return_url": return_url}
            )
        except stripe.StripeError as exc:
            logger.warning("Stripe portal creation failed: %s", exc)
            raise PaymentProviderError(
                "Billing management is not reachable right now. Please try again in a minute."
            ) from exc
        return portal.url

    def cancel_at_period_end(self, *, subscription: Subscription) -> None:
        stripe_subscription_cancel_at_period_end(subscription.provider_subscription_id)

    def terminate(self, *, subscription: Subscription) -> None:
        if not subscription.provider_subscription_id:
            return
        try:
            self.client().v1.subscriptions.cancel(subscription.provider_subscription_id)
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe did not cancel the subscription: {exc}") from exc

"""The Stripe provider: Checkout Sessions, the customer portal and subscription changes,
through the official SDK. Payment confirmations arrive as signed webhooks (stripe_events.py)."""

import logging

import stripe
from django.conf import settings

from verification.models import Subscription

from .base import PaymentProviderError

logger = logging.getLogger(__name__)


class StripeProvider:
    """Sells the plan as a Stripe subscription (mode="subscription") via Stripe Checkout."""

    name = Subscription.PROVIDER_STRIPE
    # Tests set a fake stripe HTTPClient here so the SDK builds real requests but none leaves.
    http_client: "stripe.HTTPClient | None" = None

    def client(self) -> stripe.StripeClient:
        if not settings.STRIPE_SECRET_KEY:
            raise PaymentProviderError("Payments are not configured (STRIPE_SECRET_KEY).")
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY, http_client=self.http_client, max_network_retries=2
        )

    def checkout_start(
        self, *, subscription: Subscription, success_url: str, cancel_url: str
    ) -> str:
        plan = subscription.plan
        if plan.stripe_price_id:
            line_item = {"price": plan.stripe_price_id, "quantity": 1}
        else:
            line_item = {
                "quantity": 1,
                "price_data": {
                    "currency": plan.currency.lower(),
                    "unit_amount": plan.price_minor,
                    "recurring": {"interval": plan.interval},
                    "product_data": {"name": plan.name},
                },
            }
        metadata = {"subscription_id": str(subscription.pk)}
        params = {
            "mode": "subscription",
            "line_items": [line_item],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": subscription.checkout_ref,
            "metadata": metadata,
            # Copied onto the Stripe subscription, so its invoices lead back to our row too.
            "subscription_data": {"metadata": metadata},
        }
        if subscription.provider_customer_id:
            params["customer"] = subscription.provider_customer_id
        else:
            params["customer_email"] = subscription.user.email
        try:
            session = self.client().v1.checkout.sessions.create(
                params, {"idempotency_key": f"checkout-{subscription.checkout_ref}"}
            )
        except stripe.StripeError as exc:
            logger.warning("Stripe checkout creation failed: %s", exc)
            raise PaymentProviderError(
                "The payment provider is not reachable right now. Please try again in a minute."
            ) from exc
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
        if not subscription.provider_subscription_id:
            return
        try:
            self.client().v1.subscriptions.update(
                subscription.provider_subscription_id, {"cancel_at_period_end": True}
            )
        except stripe.StripeError as exc:
            logger.warning("Stripe cancel failed: %s", exc)
            raise PaymentProviderError(
                "We could not reach the payment provider to cancel. Nothing changed; "
                "please try again in a minute."
            ) from exc

    def terminate(self, *, subscription: Subscription) -> None:
        if not subscription.provider_subscription_id:
            return
        try:
            self.client().v1.subscriptions.cancel(subscription.provider_subscription_id)
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe did not cancel the subscription: {exc}") from exc

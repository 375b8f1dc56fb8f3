"""Payment providers behind one small interface, chosen by the PAYMENTS_PROVIDER setting.

``dev`` is a local TEST MODE checkout page (no network); ``stripe`` is Stripe Checkout, the
customer portal and signed webhooks. Services call ``payment_provider()`` and never name one.
"""

from django.conf import settings

from . import checks  # noqa: F401 - registers the deployment check
from .base import PaymentProvider, PaymentProviderError


def payment_provider(name: str | None = None) -> PaymentProvider:
    """The provider named ``name`` (default: settings.PAYMENTS_PROVIDER)."""
    name = name or settings.PAYMENTS_PROVIDER
    if name == "stripe":
        from .stripe_provider import StripeProvider

        return StripeProvider()
    if name == "dev":
        from .dev import DevProvider

        return DevProvider()
    raise PaymentProviderError(f"Unknown payment provider {name!r}.")


__all__ = ["PaymentProvider", "PaymentProviderError", "payment_provider"]

"""The interface every payment provider implements."""

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from verification.models import Subscription


class PaymentProviderError(Exception):
    """The provider could not do what we asked; the message is safe to show a person."""


class PaymentProvider(Protocol):
    """What the verification services need from a payment provider.

    A provider starts a checkout and, for recurring billing, cancels or terminates what it
    bills. Payment confirmations come back asynchronously (a webhook, or the dev checkout's
    buttons) and are applied by the services, never by the provider itself.
    """

    name: str

    def checkout_start(
        self, *, subscription: "Subscription", success_url: str, cancel_url: str
    ) -> str:
        """Begin paying for ``subscription``; returns the URL to send the buyer to."""
        ...

    def portal_url(self, *, subscription: "Subscription", return_url: str) -> str | None:
        """Where the subscriber manages billing (card, invoices), or None when there is none."""
        ...

    def cancel_at_period_end(self, *, subscription: "Subscription") -> None:
        """Stop renewing: the subscription stays paid up to the end of its current period."""
        ...

    def terminate(self, *, subscription: "Subscription") -> None:
        """Stop billing now (an admin revoked verification)."""
        ...

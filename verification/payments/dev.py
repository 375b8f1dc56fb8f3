"""The dev provider: a local checkout page marked TEST MODE, so every path works offline.

Never use it in production: anyone can press "Pay". The page itself (and its Pay / Decline /
Cancel buttons) lives in verification/views.py.
"""

from django.urls import reverse

from verification.models import Subscription


class DevProvider:
    """Sends the buyer to our own TEST MODE checkout page; bills nothing anywhere."""

    name = Subscription.PROVIDER_DEV

    def checkout_start(
        self, *, subscription: Subscription, success_url: str, cancel_url: str
    ) -> str:
        return reverse(
            "accounts:verification_dev_checkout", kwargs={"ref": subscription.checkout_ref}
        )

    def portal_url(self, *, subscription: Subscription, return_url: str) -> str | None:
        return None

    def cancel_at_period_end(self, *, subscription: Subscription) -> None:
        return None

    def terminate(self, *, subscription: Subscription) -> None:
        return None

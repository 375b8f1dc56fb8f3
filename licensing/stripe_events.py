"""The data plans' Stripe events, applied through verification's one webhook endpoint.

``LicensingConfig.ready`` registers these handlers as an owner of Stripe sales
(``verification.payments.stripe_events.stripe_event_owner_register``): the endpoint verifies
the signature, stores the event id with its effect (a replay changes nothing) and hands each
object to the owners in turn. An object is a licence's when its metadata carries the
``licence_id`` our Checkout Session put on it, or its Stripe subscription is a licence's.
"""

import logging
from functools import partial

from verification.payments.stripe_events import (
    InvoicePayment,
    invoice_period_end,
    invoice_subscription,
    paid_period_move,
    stripe_event_owner_register,
)

from . import billing
from .models import Licence

logger = logging.getLogger(__name__)


def _licence(*, stripe_subscription_id: str = "", metadata: dict | None = None) -> Licence | None:
    query = Licence.objects.filter(provider=Licence.PROVIDER_STRIPE)
    if stripe_subscription_id:
        found = query.filter(provider_subscription_id=stripe_subscription_id).first()
        if found is not None:
            return found
    our_id = str((metadata or {}).get("licence_id", ""))
    return query.filter(pk=int(our_id)).first() if our_id.isdigit() else None


def _on_checkout_completed(session: dict) -> bool:
    licence = _licence(metadata=session.get("metadata"))
    if licence is None:
        return False
    if licence.status == Licence.Status.PENDING:
        billing.licence_stripe_session_apply(licence=licence, session=session)
    return True


def _on_invoice_paid(invoice: dict) -> bool:
    payment = InvoicePayment.from_invoice(invoice)
    licence = _licence(
        stripe_subscription_id=payment.stripe_subscription_id, metadata=payment.metadata
    )
    if licence is None:
        return False
    paid_period_move(
        payment,
        # The subscription's first invoice sets the first period exactly (activation by the
        # checkout event or the buyer's return only guessed it); later ones move it forward.
        starts=licence.status == Licence.Status.PENDING or (payment.first and licence.is_active),
        activate=partial(billing.licence_activate, licence=licence),
        renew=partial(billing.licence_renew, licence=licence),
    )
    return True


def _on_invoice_payment_failed(invoice: dict) -> bool:
    stripe_id, metadata = invoice_subscription(invoice)
    licence = _licence(stripe_subscription_id=stripe_id, metadata=metadata)
    if licence is None:
        return False
    billing.licence_payment_fail(licence=licence, period_end=invoice_period_end(invoice))
    return True


def _on_subscription_deleted(stripe_subscription: dict) -> bool:
    licence = _licence(
        stripe_subscription_id=stripe_subscription.get("id", ""),
        metadata=stripe_subscription.get("metadata"),
    )
    if licence is None:
        return False
    billing.licence_provider_end(licence=licence)
    return True


def licensing_stripe_events_register() -> None:
    """Route the data plans' Stripe events here (idempotent)."""
    stripe_event_owner_register(
        name="licensing",
        handlers={
            "checkout.session.completed": _on_checkout_completed,
            "invoice.paid": _on_invoice_paid,
            "invoice.payment_succeeded": _on_invoice_paid,
            "invoice.payment_failed": _on_invoice_payment_failed,
            "customer.subscription.deleted": _on_subscription_deleted,
        },
    )

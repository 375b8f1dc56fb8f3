"""Stripe webhooks: verify the signature, then apply each event once.

One endpoint for everything sold through Stripe. Handled: checkout.session.completed,
invoice.paid (and invoice.payment_succeeded, its older twin), invoice.payment_failed and
customer.subscription.deleted. Each event goes to the *owners* of Stripe sales in turn —
verification's subscriptions first, then any an app above registers
(``stripe_event_owner_register``: the licensed lane's data plans) — until one recognises the
object as its own (by the metadata it put on the sale, or the Stripe subscription id). Every
processed event id is stored in the same transaction as its effect, so a replayed (or
concurrently redelivered) event changes nothing, whoever owns it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from verification import services
from verification.models import PaymentWebhookEvent, Subscription

logger = logging.getLogger(__name__)

HANDLED_EVENTS = (
    "checkout.session.completed",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "customer.subscription.deleted",
)

# An owner's handler gets the event's object and says whether the object was its own.
StripeEventHandler = Callable[[dict], bool]


class WebhookRejected(Exception):
    """The request is not a genuine Stripe event (bad signature or payload): answer 400."""


def stripe_event_verify(*, payload: bytes, signature_header: str | None) -> dict:
    """The event in ``payload`` as a dict, if Stripe signed it with STRIPE_WEBHOOK_SECRET."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise WebhookRejected("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
    try:
        event = stripe.Webhook.construct_event(
            payload.decode("utf-8"), signature_header, settings.STRIPE_WEBHOOK_SECRET
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected("The payload is not valid JSON.") from exc
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected("The Stripe-Signature header does not match.") from exc
    return event.to_dict()


def _timestamp(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def stripe_timestamp(value) -> datetime | None:
    """A Stripe Unix timestamp as an aware UTC datetime (None for none)."""
    return _timestamp(value)


def invoice_subscription(invoice: dict) -> tuple[str, dict]:
    """(Stripe subscription id, the subscription's metadata) of an invoice, across API
    versions (``invoice.subscription`` before 2025-03, ``invoice.parent`` since)."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    stripe_id = details.get("subscription") or invoice.get("subscription") or ""
    if isinstance(stripe_id, dict):
        stripe_id = stripe_id.get("id", "")
    metadata = details.get("metadata") or invoice.get("subscription_details", {}).get(
        "metadata", {}
    )
    return stripe_id, metadata or {}


def _invoice_subscription_ref(invoice: dict) -> tuple[str, str]:
    """(Stripe subscription id, our subscription id from metadata) of an invoice."""
    stripe_id, metadata = invoice_subscription(invoice)
    return stripe_id, metadata.get("subscription_id", "")


def _find_subscription(
    *, stripe_subscription_id: str = "", our_id: str = ""
) -> Subscription | None:
    query = Subscription.objects.select_related("user", "plan").filter(
        provider=Subscription.PROVIDER_STRIPE
    )
    if stripe_subscription_id:
        found = query.filter(provider_subscription_id=stripe_subscription_id).first()
        if found is not None:
            return found
    if our_id and str(our_id).isdigit():
        return query.filter(pk=int(our_id)).first()
    return None


def invoice_period_end(invoice: dict) -> datetime | None:
    """The end of the period an invoice pays for: its subscription line's period end."""
    lines = (invoice.get("lines") or {}).get("data") or []
    ends = [line.get("period", {}).get("end") for line in lines if line.get("period")]
    return _timestamp(max(ends)) if ends else None


@dataclass(frozen=True)
class InvoicePayment:
    """What a paid Stripe invoice says, whoever sold it: which Stripe subscription (and the
    metadata we put on it), which customer, the end of the period it pays for, and whether it
    is the subscription's first invoice."""

    stripe_subscription_id: str
    metadata: dict
    customer_id: str
    period_end: datetime | None
    first: bool

    @classmethod
    def from_invoice(cls, invoice: dict) -> "InvoicePayment":
        stripe_id, metadata = invoice_subscription(invoice)
        return cls(
            stripe_subscription_id=stripe_id,
            metadata=metadata,
            customer_id=invoice.get("customer") or "",
            period_end=invoice_period_end(invoice),
            first=invoice.get("billing_reason") == "subscription_create",
        )


def paid_period_move(
    payment: InvoicePayment,
    *,
    starts: bool,
    activate: Callable[..., object],
    renew: Callable[..., object],
) -> None:
    """How a paid invoice moves a sale's paid period, for subscriptions and licences alike:
    one it ``starts`` is activated for the invoiced period with Stripe's ids; any other has
    its period end moved to the invoice's (when the invoice names one). ``activate`` and
    ``renew`` are the owner's services, bound to the sale."""
    if starts:
        activate(
            period_end=payment.period_end,
            provider_customer_id=payment.customer_id,
            provider_subscription_id=payment.stripe_subscription_id,
        )
    elif payment.period_end is not None:
        renew(period_end=payment.period_end)


def _on_checkout_completed(session: dict) -> bool:
    our_id = (session.get("metadata") or {}).get("subscription_id", "")
    subscription = _find_subscription(our_id=our_id)
    if subscription is None:
        subscription = (
            Subscription.objects.filter(
                provider=Subscription.PROVIDER_STRIPE,
                checkout_ref=session.get("client_reference_id") or "",
            )
            .select_related("user", "plan")
            .first()
        )
    if subscription is None:
        return False
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return True  # asynchronous payment methods: invoice.paid activates it later
    services.subscription_activate(
        subscription=subscription,
        provider_customer_id=session.get("customer") or "",
        provider_subscription_id=session.get("subscription") or "",
    )
    return True


def _on_invoice_paid(invoice: dict) -> bool:
    payment = InvoicePayment.from_invoice(invoice)
    subscription = _find_subscription(
        stripe_subscription_id=payment.stripe_subscription_id,
        our_id=payment.metadata.get("subscription_id", ""),
    )
    if subscription is None:
        return False
    paid_period_move(
        payment,
        starts=subscription.status == Subscription.Status.PENDING,
        activate=partial(services.subscription_activate, subscription=subscription),
        renew=partial(services.subscription_renew, subscription=subscription),
    )
    return True


def _on_invoice_payment_failed(invoice: dict) -> bool:
    stripe_id, our_id = _invoice_subscription_ref(invoice)
    subscription = _find_subscription(stripe_subscription_id=stripe_id, our_id=our_id)
    if subscription is None:
        return False
    services.subscription_payment_fail(
        subscription=subscription, period_end=invoice_period_end(invoice)
    )
    return True


def _on_subscription_deleted(stripe_subscription: dict) -> bool:
    our_id = (stripe_subscription.get("metadata") or {}).get("subscription_id", "")
    subscription = _find_subscription(
        stripe_subscription_id=stripe_subscription.get("id", ""), our_id=our_id
    )
    if subscription is None:
        return False
    services.subscription_end(subscription=subscription)
    return True


# The owners of Stripe sales, in the order they are asked: verification's own first.
_OWNERS: dict[str, dict[str, StripeEventHandler]] = {
    "verification": {
        "checkout.session.completed": _on_checkout_completed,
        "invoice.paid": _on_invoice_paid,
        "invoice.payment_succeeded": _on_invoice_paid,
        "invoice.payment_failed": _on_invoice_payment_failed,
        "customer.subscription.deleted": _on_subscription_deleted,
    }
}


def stripe_event_owner_register(*, name: str, handlers: dict[str, StripeEventHandler]) -> None:
    """Let an app above verification apply the events of what it sells through Stripe.

    Each handler returns whether the object was its own; one that is not is passed on to the
    next owner. Called from the app's ``ready()``; registering the same name again replaces
    it (idempotent).
    """
    unknown = set(handlers) - set(HANDLED_EVENTS)
    if unknown:
        raise ValueError(f"Stripe events not routed by the webhook: {sorted(unknown)}")
    _OWNERS[name] = dict(handlers)


def _dispatch(event_type: str, obj: dict) -> None:
    """Hand the event's object to each owner until one recognises it."""
    for owner, handlers in _OWNERS.items():
        handler = handlers.get(event_type)
        if handler is not None and handler(obj):
            logger.info("Stripe %s applied by %s", event_type, owner)
            return
    if event_type in HANDLED_EVENTS:
        logger.warning("Stripe %s for nothing we sold (%r)", event_type, obj.get("id"))


def stripe_event_handle(*, event: dict) -> bool:
    """Apply a verified Stripe event once. Returns False when it was already processed."""
    event_id = event.get("id") or ""
    event_type = event.get("type") or ""
    if not event_id:
        raise WebhookRejected("The event has no id.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                PaymentWebhookEvent.objects.create(
                    provider=Subscription.PROVIDER_STRIPE,
                    event_id=event_id,
                    event_type=event_type,
                )
        except IntegrityError:
            # Already processed (a replay, or a redelivery racing the first one; on PostgreSQL
            # the second insert waits for the first to commit): nothing more to do.
            logger.info("Ignoring replayed Stripe event %s (%s)", event_id, event_type)
            return False
        # The effect commits together with the event id, or neither does (Stripe retries).
        _dispatch(event_type, (event.get("data") or {}).get("object") or {})
    return True

"""Buying and keeping a data licence: checkout, monthly renewals, failed payments,
cancellation and the end of the licence (docs/licensing.md, "Renewals and cancellations").

Payments come through the same providers as verification: the dev provider's TEST MODE page
(with buttons that simulate what Stripe would report later), or Stripe, whose events arrive
at verification's one webhook endpoint and are routed here (``licensing/stripe_events.py``).
Every change is idempotent: the same renewal, failure or cancellation applied twice changes
nothing more.
"""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core.grace import period_paid
from core.site import absolute_url
from verification.payments import PaymentProviderError, payment_provider
from verification.payments.stripe_provider import (
    StripeSale,
    stripe_checkout_session_create,
    stripe_checkout_session_get,
    stripe_subscription_cancel_at_period_end,
)

from .models import DataPlan, Licence

logger = logging.getLogger(__name__)

# A dev-provider period, and the first guess for a Stripe one until its invoice says.
PERIOD = timedelta(days=30)
FINISHED = (Licence.Status.ENDED, Licence.Status.CHECKOUT_CANCELED)


def licence_checkout_start(*, user: User, plan: DataPlan, request=None) -> tuple[Licence, str]:
    """Start buying ``plan``: open a pending licence and return the provider URL.

    The dev provider's TEST MODE page, or a Stripe Checkout Session selling the plan monthly
    (``request`` makes its return URLs absolute).
    """
    if not plan.is_active:
        raise ValidationError("This data plan is not on sale.", code="plan_inactive")
    provider = payment_provider()
    if provider.name not in (Licence.PROVIDER_DEV, Licence.PROVIDER_STRIPE):
        raise ValidationError("Data plans cannot be bought right now.", code="no_provider")
    # Only the newest checkout can be paid: a second tab or a double click must not buy twice.
    Licence.objects.filter(user=user, status=Licence.Status.PENDING).update(
        status=Licence.Status.CHECKOUT_CANCELED, ended_at=timezone.now()
    )
    licence = Licence.objects.create(
        user=user, plan=plan, provider=provider.name, checkout_ref=secrets.token_urlsafe(24)
    )
    if provider.name == Licence.PROVIDER_DEV:
        return licence, reverse("licensing:dev_checkout", kwargs={"ref": licence.checkout_ref})
    return_path = reverse("licensing:stripe_return", kwargs={"ref": licence.checkout_ref})
    sale = StripeSale(
        reference=licence.checkout_ref,
        product_name=f"{plan.name} data plan",
        price_minor=plan.price_minor,
        currency=plan.currency,
        interval="month",
        stripe_price_id=plan.stripe_price_id,
        metadata={"licence_id": str(licence.pk)},
        customer_email=user.email,
    )
    try:
        session = stripe_checkout_session_create(
            sale=sale,
            success_url=absolute_url(return_path, request) + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=absolute_url(reverse("licensing:plans"), request) + "?checkout=cancelled",
            idempotency_key=f"licence-checkout-{licence.checkout_ref}",
        )
    except PaymentProviderError as exc:
        licence.status = Licence.Status.CHECKOUT_CANCELED
        licence.save(update_fields=["status"])
        raise ValidationError(str(exc), code="provider_error") from exc
    licence.provider_checkout_id = session.id
    licence.save(update_fields=["provider_checkout_id"])
    return licence, session.url


def licence_stripe_return(*, licence: Licence, session_id: str) -> Licence:
    """The buyer is back from Stripe Checkout: activate the licence once Stripe, asked by
    session id, says that session is this licence's and paid (the webhook may do it first)."""
    if licence.is_active:
        return licence  # a reload of the return page, or the webhook was first
    if licence.status != Licence.Status.PENDING:
        raise ValidationError("This checkout is no longer open.", code="not_pending")
    session = {}
    if session_id and session_id == licence.provider_checkout_id:
        try:
            session = stripe_checkout_session_get(session_id)
        except PaymentProviderError as exc:
            raise ValidationError(str(exc), code="provider_error") from exc
    if not licence_stripe_session_apply(licence=licence, session=session):
        raise ValidationError(
            "The payment has not been confirmed. If you paid, reload this page in a minute.",
            code="not_paid",
        )
    licence.refresh_from_db()
    return licence


def licence_stripe_session_apply(*, licence: Licence, session: dict) -> bool:
    """Activate ``licence`` from a Checkout Session Stripe reported (on the buyer's return or
    by ``checkout.session.completed``) if it is this licence's and paid. Returns whether."""
    paid = session.get("client_reference_id") == licence.checkout_ref and session.get(
        "payment_status"
    ) in ("paid", "no_payment_required")
    if paid:
        licence_activate(
            licence=licence,
            provider_customer_id=_id(session.get("customer")),
            provider_subscription_id=_id(session.get("subscription")),
        )
    return paid


def _id(value) -> str:
    """A Stripe reference that may come expanded (an object) or as its id."""
    if isinstance(value, dict):
        return value.get("id", "")
    return value or ""


def licence_dev_checkout_complete(*, licence: Licence, outcome: str) -> Licence:
    """The TEST MODE checkout's buttons: "pay" activates the licence, "cancel" drops it."""
    if licence.status != Licence.Status.PENDING:
        raise ValidationError("This checkout is no longer open.", code="not_pending")
    if outcome == "pay":
        return licence_activate(licence=licence)
    if outcome == "cancel":
        licence.status = Licence.Status.CHECKOUT_CANCELED
        licence.ended_at = timezone.now()
        licence.save(update_fields=["status", "ended_at"])
        return licence
    raise ValidationError('outcome must be "pay" or "cancel".', code="invalid")


def _locked(licence: Licence) -> Licence:
    return Licence.objects.select_for_update().select_related("plan", "user").get(pk=licence.pk)


def _synced(original: Licence, locked: Licence) -> Licence:
    """The caller's instance, brought up to date with what was just saved (no query)."""
    for field in Licence._meta.concrete_fields:
        setattr(original, field.attname, getattr(locked, field.attname))
    return original


def licence_activate(
    *,
    licence: Licence,
    period_end: datetime | None = None,
    provider_customer_id: str = "",
    provider_subscription_id: str = "",
) -> Licence:
    """The first payment went through: the licence may be used from now on, for its first
    period: ``period_end`` (the first invoice's, which replaces any guess), or a month from
    now until Stripe's first invoice says. Idempotent."""
    with transaction.atomic():
        original, licence = licence, _locked(licence)
        if licence.status in FINISHED:
            logger.warning("Ignoring a payment for finished licence %s", licence.pk)
            return _synced(original, licence)
        now = timezone.now()
        if licence.status == Licence.Status.PENDING:
            licence.status = Licence.Status.ACTIVE
            licence.activated_at = now
        if period_end is not None:
            licence.current_period_end = period_end  # the first invoice's: exact
        elif licence.current_period_end is None:
            licence.current_period_end = now + PERIOD
        licence.provider_customer_id = provider_customer_id or licence.provider_customer_id
        licence.provider_subscription_id = (
            provider_subscription_id or licence.provider_subscription_id
        )
        licence.save(
            update_fields=[
                "status",
                "activated_at",
                "current_period_end",
                "provider_customer_id",
                "provider_subscription_id",
            ]
        )
    return _synced(original, licence)


def licence_renew(*, licence: Licence, period_end: datetime) -> Licence:
    """A month was paid: usable up to ``period_end``, out of any grace period; a lapsed
    licence whose late payment went through comes back. The quota is not touched: it is the
    calendar month's and resets at 00:00 UTC on the 1st whatever the billing day. Idempotent
    (the period only ever moves forward)."""
    with transaction.atomic():
        original, licence = licence, _locked(licence)
        if licence.status in FINISHED or licence.status == Licence.Status.PENDING:
            logger.warning("Ignoring a renewal for licence %s (%s)", licence.pk, licence.status)
            return _synced(original, licence)
        licence.status = Licence.Status.ACTIVE
        if licence.current_period_end is None or period_end > licence.current_period_end:
            licence.current_period_end = period_end
        licence.grace_until = None
        licence.ended_at = None
        licence.save(update_fields=["status", "current_period_end", "grace_until", "ended_at"])
    return _synced(original, licence)


def licence_payment_fail(*, licence: Licence, period_end: datetime | None = None) -> Licence:
    """A renewal payment failed: past due, still usable until its grace runs out
    (``Licence.grace_end``), then it lapses.

    ``period_end`` is the end of the period the failed invoice bills, when the provider says:
    a failure for a period already paid (delivered after the retry that succeeded) changes
    nothing. A second failure in the same grace period does not extend it, and a failure
    reported after the licence's deadline (the grace would have run out, or it was cancelled
    and its period is over) moves it on at once, as ``licences_expire`` would have.
    """
    with transaction.atomic():
        original, licence = licence, _locked(licence)
        if licence.status != Licence.Status.ACTIVE:
            return _synced(original, licence)
        if period_paid(billed_to=period_end, paid_to=licence.current_period_end):
            logger.info("Ignoring a failed payment for a paid period of licence %s", licence.pk)
            return _synced(original, licence)
        now = timezone.now()
        if not licence.is_usable(now):
            # Past its deadline already (the hourly job not run yet): no grace to start.
            _licence_close(licence)
            return _synced(original, licence)
        licence.status = Licence.Status.PAST_DUE
        licence.grace_until = licence.grace_end(failed_at=now)
        licence.save(update_fields=["status", "grace_until"])
    return _synced(original, licence)


def licence_cancel(*, licence: Licence) -> Licence:
    """The licensee stops renewing: the licence works until its paid period ends, then ends.
    Stripe is told first (nothing changes here if it cannot be reached)."""
    with transaction.atomic():
        original, licence = licence, _locked(licence)
        if not licence.is_active or licence.cancel_at_period_end:
            return _synced(original, licence)
        if licence.provider == Licence.PROVIDER_STRIPE:
            try:
                stripe_subscription_cancel_at_period_end(licence.provider_subscription_id)
            except PaymentProviderError as exc:
                raise ValidationError(str(exc), code="provider_error") from exc
        licence.cancel_at_period_end = True
        licence.save(update_fields=["cancel_at_period_end"])
    return _synced(original, licence)


def licence_provider_end(*, licence: Licence) -> Licence:
    """The provider ended the billing (Stripe's ``customer.subscription.deleted``): no more
    renewals. A paid-up licence works to the end of its period, then ends; one past due
    (its retries ran out) ends now. Idempotent."""
    with transaction.atomic():
        original, licence = licence, _locked(licence)
        if licence.status in FINISHED:
            return _synced(original, licence)
        now = timezone.now()
        period_end = licence.current_period_end
        licence.cancel_at_period_end = True
        if licence.status == Licence.Status.ACTIVE and period_end is not None and now < period_end:
            licence.ended_at = period_end  # when it will end; the status follows then
        else:
            licence.status = Licence.Status.ENDED
            licence.ended_at = now
        licence.save(update_fields=["status", "cancel_at_period_end", "ended_at"])
    return _synced(original, licence)


def licence_end(*, licence: Licence) -> Licence:
    """End a licence now (an admin): its tokens stop working; its receipts stay valid."""
    licence.status = Licence.Status.ENDED
    licence.ended_at = timezone.now()
    licence.save(update_fields=["status", "ended_at"])
    return licence


def licences_expire(*, now: datetime | None = None) -> dict[str, int]:
    """Move licences past their deadline to their next status (hourly; idempotent): a
    cancelled one past its period → ended; a past-due one past its grace → lapsed; an active
    one past its period and the grace for a late renewal → lapsed. Their tokens stopped at
    the deadline already (``Licence.is_usable``); this keeps the pages and the admin right."""
    now = now or timezone.now()
    counts = {"ended": 0, "lapsed": 0}
    live = Licence.objects.filter(status__in=Licence.LIVE_STATUSES)
    for pk in list(live.values_list("pk", flat=True)):
        with transaction.atomic():
            licence = Licence.objects.select_for_update().filter(pk=pk).first()
            if licence is None or not licence.is_active or licence.is_usable(now):
                continue
            counts[_licence_close(licence)] += 1
    return counts


def _licence_close(licence: Licence) -> str:
    """A live licence past its deadline moves on as of that deadline (``access_ends_at``):
    ended if it was cancelled, lapsed otherwise. Returns which ("ended" / "lapsed")."""
    ends = licence.access_ends_at()
    if licence.cancel_at_period_end:
        licence.status, key = Licence.Status.ENDED, "ended"
    else:
        licence.status, key = Licence.Status.LAPSED, "lapsed"
    licence.ended_at = ends
    licence.save(update_fields=["status", "ended_at"])
    return key


DEV_EVENTS = {
    "renew": "the month's payment went through",
    "fail": "the month's payment failed",
    "delete": "the provider ended the subscription",
    "period_over": "the paid period is over (time moves to its end)",
}


def licence_dev_simulate(*, licence: Licence, event: str) -> Licence:
    """TEST MODE only: what Stripe would report about a dev licence later, so every path of
    the lifecycle can be tried on ``make run`` (``DEV_EVENTS``)."""
    if licence.provider != Licence.PROVIDER_DEV or licence.status in FINISHED:
        raise ValidationError("Only a test-mode licence that has not ended can be simulated.")
    if event == "renew":
        start = max(licence.current_period_end or timezone.now(), timezone.now())
        return licence_renew(licence=licence, period_end=start + PERIOD)
    if event == "fail":
        return licence_payment_fail(licence=licence)
    if event == "delete":
        return licence_provider_end(licence=licence)
    if event == "period_over":
        # As if the month had passed with no renewal reported: the period ends now, and so
        # does the grace a late renewal would have had.
        with transaction.atomic():
            licence = _locked(licence)
            now = timezone.now()
            licence.current_period_end = now - timedelta(days=settings.LICENSING_GRACE_DAYS)
            if licence.cancel_at_period_end:
                licence.current_period_end = now
            if licence.grace_until is not None:
                licence.grace_until = now
            licence.save(update_fields=["current_period_end", "grace_until"])
        licences_expire(now=timezone.now())
        licence.refresh_from_db()
        return licence
    raise ValidationError(f"Choose one of: {', '.join(DEV_EVENTS)}.", code="bad_event")

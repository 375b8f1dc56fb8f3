"""Writes for paid verification: checkout, the subscription lifecycle (renewals, failed
payments, cancellation, expiry), admin grants and revocations, and the badge they keep in
step (``User.is_verified``)."""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.auth_cache import auth_user_changed
from accounts.models import User
from accounts.validators import validate_username
from core.audit import admin_action_log, security_event_record
from core.grace import grace_end, period_paid
from core.models import AdminActionLog, SecurityEvent
from core.site import absolute_url

from .models import Plan, Subscription
from .payments import PaymentProviderError, payment_provider
from .selectors import plan_get_default, verification_eligibility

logger = logging.getLogger(__name__)


# --- Paid verification: the badge ---------------------------------------------------------


def _user_badge_sync(*, user: User) -> bool:
    """Set ``User.is_verified`` from the subscriptions: the one place that writes the badge.

    The badge shows while a subscription is live (active, or past due within grace) and not
    on hold. Returns the new value.
    """
    verified = Subscription.objects.filter(
        user_id=user.pk, status__in=Subscription.LIVE_STATUSES, badge_on_hold=False
    ).exists()
    # Compare in the database: the in-memory object may be stale (loaded before the change).
    changed = (
        User.objects.filter(pk=user.pk).exclude(is_verified=verified).update(is_verified=verified)
    )
    if changed:
        auth_user_changed(user_id=user.pk)  # an update() sends no signal
        security_event_record(
            kind=SecurityEvent.VERIFICATION_CHANGED, user=user, details={"is_verified": verified}
        )
    user.is_verified = verified
    # The per-request tier cache (selectors.effective_tier) must not outlive a change.
    user.__dict__.pop("_effective_tier", None)
    return verified


def _subscription_save(subscription: Subscription, *fields: str) -> None:
    subscription.save(update_fields=[*fields, "updated_at"])
    _user_badge_sync(user=subscription.user)


def _period_end_after(start: datetime, plan: Plan | None) -> datetime:
    """When a period that starts at ``start`` ends (month: 30 days, year: 365 days)."""
    days = 365 if plan is not None and plan.interval == Plan.INTERVAL_YEAR else 30
    return start + timedelta(days=days)


def _grace_end(subscription: Subscription, *, missed_at: datetime) -> datetime:
    """When the grace for a renewal missed at ``missed_at`` runs out: VERIFICATION_GRACE_DAYS
    from then, or from the period's end if that came first, so a late or missed webhook
    neither costs nor buys the subscriber any grace (``core.grace``, shared with licences)."""
    return grace_end(
        days=settings.VERIFICATION_GRACE_DAYS,
        period_end=subscription.current_period_end,
        failed_at=missed_at,
    )


def _subscription_lapse(subscription: Subscription, *, now: datetime) -> None:
    """Grace ran out with no payment: lapsed, the badge goes (a late payment brings it back)."""
    subscription.status = Subscription.Status.LAPSED
    subscription.ended_at = now
    _subscription_save(subscription, "status", "ended_at")


# --- Paid verification: checkout ----------------------------------------------------------


def subscription_checkout_start(*, user: User, request=None) -> tuple[Subscription, str]:
    """Start buying verification: check eligibility, open a pending subscription and return
    it with the provider URL to send the buyer to."""
    unmet = verification_eligibility(user=user)
    if unmet:
        raise ValidationError([requirement.message for requirement in unmet], code="ineligible")
    if Subscription.objects.filter(user=user, status__in=Subscription.LIVE_STATUSES).exists():
        raise ValidationError("You are already verified.", code="already_verified")
    plan = plan_get_default()
    if plan is None:
        raise ValidationError(
            "Verification is not on sale right now. Please try again later.", code="no_plan"
        )
    provider = payment_provider()
    # Reuse the Stripe customer from an earlier subscription so the portal shows one history.
    previous = (
        Subscription.objects.filter(user=user, provider=provider.name)
        .exclude(provider_customer_id="")
        .order_by("-pk")
        .first()
    )
    # Only the newest checkout can be paid: a second tab or a double click must not buy twice.
    Subscription.objects.filter(user=user, status=Subscription.Status.PENDING).update(
        status=Subscription.Status.CHECKOUT_CANCELED, ended_at=timezone.now()
    )
    subscription = Subscription.objects.create(
        user=user,
        plan=plan,
        provider=provider.name,
        checkout_ref=secrets.token_urlsafe(24),
        provider_customer_id=previous.provider_customer_id if previous else "",
    )
    status_path = reverse("accounts:verification")
    try:
        url = provider.checkout_start(
            subscription=subscription,
            success_url=absolute_url(reverse("accounts:verification_return"), request)
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=absolute_url(status_path, request) + "?checkout=cancelled",
        )
    except PaymentProviderError as exc:
        subscription.status = Subscription.Status.CHECKOUT_CANCELED
        subscription.save(update_fields=["status", "updated_at"])
        raise ValidationError(str(exc), code="provider_error") from exc
    return subscription, url


def subscription_activate(
    *,
    subscription: Subscription,
    period_end: datetime | None = None,
    provider_customer_id: str = "",
    provider_subscription_id: str = "",
) -> Subscription:
    """Payment confirmed: the subscription is active and the badge shows.

    Applying the same confirmation twice changes nothing more.
    """
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.status in (Subscription.Status.ENDED, Subscription.Status.REVOKED):
            logger.warning("Ignoring payment confirmation for finished %s", subscription.pk)
            return subscription
        now = timezone.now()
        subscription.status = Subscription.Status.ACTIVE
        subscription.started_at = subscription.started_at or now
        if period_end is not None:
            subscription.current_period_end = period_end
        elif subscription.current_period_end is None:
            subscription.current_period_end = _period_end_after(now, subscription.plan)
        subscription.grace_until = None
        subscription.provider_customer_id = (
            provider_customer_id or subscription.provider_customer_id
        )
        subscription.provider_subscription_id = (
            provider_subscription_id or subscription.provider_subscription_id
        )
        _subscription_save(
            subscription,
            "status",
            "started_at",
            "current_period_end",
            "grace_until",
            "provider_customer_id",
            "provider_subscription_id",
        )
    return subscription


def _checkout_close(*, subscription: Subscription, status: str) -> Subscription:
    """End a checkout that was never paid; a paid or finished subscription is left alone."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.status == Subscription.Status.PENDING:
            subscription.status = status
            subscription.ended_at = timezone.now()
            _subscription_save(subscription, "status", "ended_at")
    return subscription


def subscription_checkout_decline(*, subscription: Subscription) -> Subscription:
    """The payment was declined at checkout: nothing is bought."""
    return _checkout_close(subscription=subscription, status=Subscription.Status.DECLINED)


def subscription_checkout_cancel(*, subscription: Subscription) -> Subscription:
    """The buyer left the checkout without paying: nothing is bought."""
    return _checkout_close(subscription=subscription, status=Subscription.Status.CHECKOUT_CANCELED)


# --- Paid verification: the lifecycle ----------------------------------------------------


def subscription_renew(*, subscription: Subscription, period_end: datetime) -> Subscription:
    """A renewal was paid: active until ``period_end``, out of any grace period.

    A lapsed subscription whose late payment finally succeeds comes back too. Idempotent.
    """
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.status in (Subscription.Status.ENDED, Subscription.Status.REVOKED):
            logger.warning("Ignoring renewal for finished subscription %s", subscription.pk)
            return subscription
        subscription.status = Subscription.Status.ACTIVE
        subscription.started_at = subscription.started_at or timezone.now()
        if subscription.current_period_end is None or period_end > subscription.current_period_end:
            subscription.current_period_end = period_end
        subscription.grace_until = None
        _subscription_save(
            subscription, "status", "started_at", "current_period_end", "grace_until"
        )
    return subscription


def subscription_payment_fail(
    *, subscription: Subscription, period_end: datetime | None = None
) -> Subscription:
    """A renewal payment failed: past due, badge kept until grace runs out (``_grace_end``).

    ``period_end`` is the end of the period the failed invoice bills, when the provider says:
    a failure for a period already paid (delivered after the retry that succeeded) changes
    nothing. A second failure during the same grace period does not extend it, and a failure
    reported after grace would have run out lapses the subscription at once.
    """
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.status != Subscription.Status.ACTIVE:
            return subscription
        if period_paid(billed_to=period_end, paid_to=subscription.current_period_end):
            logger.info("Ignoring a failed payment for a paid period of %s", subscription.pk)
            return subscription
        now = timezone.now()
        subscription.status = Subscription.Status.PAST_DUE
        subscription.grace_until = _grace_end(subscription, missed_at=now)
        _subscription_save(subscription, "status", "grace_until")
        if subscription.grace_until <= now:
            _subscription_lapse(subscription, now=now)
    return subscription


def subscription_cancel(*, subscription: Subscription) -> Subscription:
    """The subscriber cancels: no more renewals; verified until the current period ends."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if not subscription.is_live or subscription.cancel_at_period_end:
            return subscription
        if subscription.provider != Subscription.PROVIDER_MANUAL:
            try:
                payment_provider(subscription.provider).cancel_at_period_end(
                    subscription=subscription
                )
            except PaymentProviderError as exc:
                raise ValidationError(str(exc), code="provider_error") from exc
        subscription.cancel_at_period_end = True
        _subscription_save(subscription, "cancel_at_period_end")
    return subscription


def subscription_end(*, subscription: Subscription) -> Subscription:
    """The subscription is over (the provider deleted it): the badge goes. Idempotent."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.status in (
            Subscription.Status.ENDED,
            Subscription.Status.REVOKED,
            Subscription.Status.DECLINED,
            Subscription.Status.CHECKOUT_CANCELED,
        ):
            return subscription
        subscription.status = Subscription.Status.ENDED
        subscription.ended_at = timezone.now()
        _subscription_save(subscription, "status", "ended_at")
    return subscription


def subscriptions_expire(*, now: datetime | None = None) -> dict[str, int]:
    """Move every subscription whose deadline has passed to its next state. Idempotent.

    - cancelled and its period is over → ended;
    - not cancelled, period over and no renewal confirmed → past due, grace counted from the
      period's end (a missed webhook costs the subscriber nothing until grace runs out);
    - past due and grace is over → lapsed.
    Each change also updates the badge. Returns how many subscriptions moved, per change.
    """
    now = now or timezone.now()
    counts = {"ended": 0, "past_due": 0, "lapsed": 0}
    overdue = Subscription.objects.filter(
        status=Subscription.Status.ACTIVE, current_period_end__lte=now
    )
    for pk in list(overdue.values_list("pk", flat=True)):
        with transaction.atomic():
            subscription = (
                Subscription.objects.select_for_update()
                .select_related("user")
                .filter(pk=pk, status=Subscription.Status.ACTIVE, current_period_end__lte=now)
                .first()
            )
            if subscription is None:  # renewed or changed since the scan
                continue
            if subscription.cancel_at_period_end:
                subscription.status = Subscription.Status.ENDED
                subscription.ended_at = subscription.current_period_end
                _subscription_save(subscription, "status", "ended_at")
                counts["ended"] += 1
                continue
            subscription.status = Subscription.Status.PAST_DUE
            subscription.grace_until = _grace_end(subscription, missed_at=now)
            _subscription_save(subscription, "status", "grace_until")
            counts["past_due"] += 1
    # A subscription moved to past due just above may already be past its grace too.
    out_of_grace = Subscription.objects.filter(
        status=Subscription.Status.PAST_DUE, grace_until__lte=now
    )
    for pk in list(out_of_grace.values_list("pk", flat=True)):
        with transaction.atomic():
            subscription = (
                Subscription.objects.select_for_update()
                .select_related("user")
                .filter(pk=pk, status=Subscription.Status.PAST_DUE, grace_until__lte=now)
                .first()
            )
            if subscription is None:
                continue
            _subscription_lapse(subscription, now=now)
            counts["lapsed"] += 1
    return counts


# --- Paid verification: admins and usernames ---------------------------------------------


def verification_grant(
    *, user: User, actor: User | None, reason: str, until: datetime | None = None
) -> Subscription:
    """An admin verifies ``user`` by hand (organisations, mistakes), with a reason that is
    logged. Without ``until`` it lasts until revoked. Any badge hold is lifted."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason: it is kept in the admin action log.")
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update()
            .filter(user=user, status__in=Subscription.LIVE_STATUSES)
            .order_by("-pk")
            .first()
        )
        if subscription is None:
            subscription = Subscription.objects.create(
                user=user,
                plan=None,
                provider=Subscription.PROVIDER_MANUAL,
                status=Subscription.Status.ACTIVE,
                checkout_ref=secrets.token_urlsafe(24),
                started_at=timezone.now(),
                current_period_end=until,
            )
        Subscription.objects.filter(user=user, status__in=Subscription.LIVE_STATUSES).update(
            badge_on_hold=False
        )
        _user_badge_sync(user=user)
        admin_action_log(
            actor=actor,
            action=AdminActionLog.Action.VERIFICATION_GRANT,
            target=user,
            reason=reason,
            details={
                "subscription_id": subscription.pk,
                "provider": subscription.provider,
                "until": until.isoformat() if until else None,
            },
        )
    return subscription


def verification_revoke(*, user: User, actor: User | None, reason: str) -> int:
    """An admin takes verification away now, with a logged reason; paid subscriptions stop
    billing at the provider. Returns how many subscriptions were revoked."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason: it is kept in the admin action log.")
    with transaction.atomic():
        live = list(
            Subscription.objects.select_for_update().filter(
                user=user, status__in=Subscription.LIVE_STATUSES
            )
        )
        provider_errors = []
        for subscription in live:
            if subscription.provider != Subscription.PROVIDER_MANUAL:
                try:
                    payment_provider(subscription.provider).terminate(subscription=subscription)
                except PaymentProviderError as exc:  # revoke anyway; tell the admin in the log
                    provider_errors.append(str(exc))
            subscription.status = Subscription.Status.REVOKED
            subscription.ended_at = timezone.now()
            subscription.save(update_fields=["status", "ended_at", "updated_at"])
        _user_badge_sync(user=user)
        admin_action_log(
            actor=actor,
            action=AdminActionLog.Action.VERIFICATION_REVOKE,
            target=user,
            reason=reason,
            details={
                "subscription_ids": [s.pk for s in live],
                "provider_errors": provider_errors,
            },
        )
    return len(live)


def verification_badge_approve(*, user: User, actor: User | None, reason: str = "") -> bool:
    """An admin re-approves a badge put on hold by a username change (logged). Returns
    whether the badge shows now."""
    with transaction.atomic():
        held = Subscription.objects.filter(
            user=user, status__in=Subscription.LIVE_STATUSES, badge_on_hold=True
        ).update(badge_on_hold=False)
        verified = _user_badge_sync(user=user)
        admin_action_log(
            actor=actor,
            action=AdminActionLog.Action.VERIFICATION_BADGE_APPROVE,
            target=user,
            reason=(reason or "").strip(),
            details={"subscriptions_released": held, "username": user.username},
        )
    return verified


def user_username_change(*, user: User, new_username: str) -> User:
    """Rename an account. A verified account's badge goes on hold until an admin re-approves
    it, as X did, so a paid badge cannot be moved onto a look-alike name."""
    new_username = (new_username or "").strip()
    if new_username == user.username:
        return user
    validate_username(new_username)
    if User.objects.filter(username__iexact=new_username).exclude(pk=user.pk).exists():
        raise ValidationError({"username": ["That username is taken."]})
    old_username = user.username
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(username=new_username)
            auth_user_changed(user_id=user.pk)
            user.username = new_username
            held = Subscription.objects.filter(
                user=user, status__in=Subscription.LIVE_STATUSES, badge_on_hold=False
            ).update(badge_on_hold=True)
            _user_badge_sync(user=user)
    except IntegrityError as exc:  # lost a race with a concurrent rename or sign-up
        user.username = old_username
        raise ValidationError({"username": ["That username is taken."]}) from exc
    if held:
        logger.info("Badge on hold after rename %s -> %s", old_username, new_username)
    return user


def subscription_dev_checkout_complete(*, subscription: Subscription, outcome: str) -> Subscription:
    """Apply a button of the dev provider's TEST MODE checkout: "pay", "decline" or "cancel".

    Only a pending dev checkout can be completed; anything else is refused with a message.
    """
    if subscription.provider != Subscription.PROVIDER_DEV:
        raise ValidationError("This is not a test-mode checkout.", code="not_dev")
    if subscription.status != Subscription.Status.PENDING:
        raise ValidationError(
            "This checkout is already closed. Start a new one from your verification settings.",
            code="closed",
        )
    if outcome == "pay":
        return subscription_activate(subscription=subscription)
    if outcome == "decline":
        return subscription_checkout_decline(subscription=subscription)
    if outcome == "cancel":
        return subscription_checkout_cancel(subscription=subscription)
    raise ValidationError("Choose Pay, Decline or Cancel.", code="bad_outcome")


def subscription_dev_simulate(*, subscription: Subscription, event: str) -> Subscription:
    """TEST MODE only: what the provider would report at the end of a period — "renew"
    (payment succeeded) or "fail" (payment failed) — so every lifecycle path can be tried."""
    if subscription.provider != Subscription.PROVIDER_DEV or not subscription.is_live:
        raise ValidationError("Only a live test-mode subscription can be simulated.")
    if event == "renew":
        start = max(subscription.current_period_end or timezone.now(), timezone.now())
        return subscription_renew(
            subscription=subscription, period_end=_period_end_after(start, subscription.plan)
        )
    if event == "fail":
        return subscription_payment_fail(subscription=subscription)
    raise ValidationError("Choose renew or fail.")


def subscription_billing_portal_start(*, subscription: Subscription, request=None) -> str:
    """The provider's billing page for this subscription (card, invoices), to redirect to."""
    try:
        url = payment_provider(subscription.provider).portal_url(
            subscription=subscription,
            return_url=absolute_url(reverse("accounts:verification"), request),
        )
    except PaymentProviderError as exc:
        raise ValidationError(str(exc), code="provider_error") from exc
    if not url:
        raise ValidationError("There is no billing page for this subscription.", code="no_portal")
    return url

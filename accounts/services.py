"""Writes for accounts: sign-up, profile and email changes, API tokens, email confirmation and
paid verification (subscriptions, admin grants and the badge)."""

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.audit import admin_action_log, security_event_record
from core.models import AdminActionLog, SecurityEvent

from .models import (
    EMAIL_TAKEN_MESSAGE,
    ApiToken,
    EmailConfirmation,
    Plan,
    Subscription,
    User,
)
from .payments import PaymentProviderError, payment_provider
from .selectors import (
    email_normalize,
    plan_get_default,
    user_email_taken,
    username_taken,
    users_never_sent_a_confirmation,
    verification_eligibility,
)
from .validators import validate_username

TOKEN_BYTES = 32


def user_create(*, username: str, email: str, password: str, display_name: str = "") -> User:
    """Create an account after checking the username, email and password rules.

    The address is kept as typed (lower-cased); its mailbox (``email_canonical``) must be
    free: "a+x@gmail.com", "A.B@googlemail.com" and "ab@gmail.com" are one mailbox.
    """
    username = (username or "").strip()
    email = email_normalize(email)
    validate_username(username)
    errors: dict[str, list[str]] = {}
    if username_taken(username):
        errors["username"] = ["That username is taken."]
    if user_email_taken(email):
        errors["email"] = [EMAIL_TAKEN_MESSAGE]
    if errors:
        raise ValidationError(errors)
    user = User(username=username, email=email, display_name=display_name.strip())
    password_validation.validate_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # lost a race with a concurrent sign-up: say which field
        errors = {}
        if username_taken(username):
            errors["username"] = ["That username is taken."]
        if user_email_taken(email) or not errors:
            errors["email"] = [EMAIL_TAKEN_MESSAGE]
        raise ValidationError(errors) from exc
    return user


def user_email_change(*, user: User, email: str) -> User:
    """Give an account a new address, refused when another account uses its mailbox.

    The new address needs confirming again: a confirmation counts only for the address it
    was sent to (``email_is_confirmed``), so the caller sends a new link.
    """
    email = email_normalize(email)
    max_length = User._meta.get_field("email").max_length
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from exc
    if len(email) > max_length:
        raise ValidationError({"email": [f"Use an address of at most {max_length} characters."]})
    if email == user.email:
        return user
    if user_email_taken(email, exclude_user=user):
        raise ValidationError({"email": [EMAIL_TAKEN_MESSAGE]})
    old_email, old_canonical = user.email, user.email_canonical
    user.email = email
    try:
        with transaction.atomic():
            user.save(update_fields=["email"])  # save() stores the new email_canonical too
    except IntegrityError as exc:  # lost a race with a sign-up or change to the same mailbox
        user.email, user.email_canonical = old_email, old_canonical
        raise ValidationError({"email": [EMAIL_TAKEN_MESSAGE]}) from exc
    return user


def user_update_profile(*, user: User, display_name: str, bio: str) -> User:
    """Change the display name and bio (160 characters)."""
    user.display_name = display_name.strip()
    user.bio = bio.strip()
    user.full_clean(validate_unique=False, validate_constraints=False)
    user.save(update_fields=["display_name", "bio"])
    return user


def token_create(*, user: User, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """Issue a personal access token. Returns the row and the raw secret, shown only once."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the token a name so you can recognise it later."]})
    scopes = sorted(set(scopes))
    if not scopes or any(scope not in ApiToken.SCOPES for scope in scopes):
        raise ValidationError({"scopes": ["Choose the scopes read and/or write."]})
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        token_hash=ApiToken.hash_secret(raw),
        token_prefix=raw[:8],
        scopes=" ".join(scopes),
    )
    security_event_record(
        kind=SecurityEvent.TOKEN_CREATED,
        user=user,
        details={"token_id": token.pk, "name": token.name, "scopes": token.scopes},
    )
    return token, raw


def token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token: it stops working on the next request. Revoking twice changes nothing."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        security_event_record(
            kind=SecurityEvent.TOKEN_REVOKED,
            user=token.user,
            details={"token_id": token.pk, "name": token.name},
        )
    return token


def tokens_revoke_all(*, user: User) -> list[ApiToken]:
    """Revoke every live token of ``user`` (each recorded as ``token_revoked``); return them.

    The rows are locked first, so two callers at once revoke (and record) each token once.
    """
    with transaction.atomic():
        tokens = list(
            ApiToken.objects.select_for_update()
            .select_related("user")
            .filter(user=user, revoked_at__isnull=True)
            .order_by("pk")
        )
        for token in tokens:
            token_revoke(token=token)
    return tokens


def token_mark_used(*, token: ApiToken, ip: str | None) -> None:
    """Record when and from where a token was last used (at most once a minute per token)."""
    now = timezone.now()
    if (
        token.last_used_at
        and (now - token.last_used_at).total_seconds() < 60
        and (token.last_used_ip == ip)
    ):
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
    token.last_used_at, token.last_used_ip = now, ip


logger = logging.getLogger(__name__)


# --- Email confirmation -------------------------------------------------------------------


def _absolute_url(path: str, request=None) -> str:
    """``path`` as a full URL: from the request when there is one, else from SITE_URL."""
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.SITE_URL.rstrip("/") + path


def _token_hash(raw: str) -> str:
    """The stored form of a one-time token (high-entropy, so plain SHA-256 suffices)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def email_confirmation_send(*, user: User, request=None) -> EmailConfirmation:
    """Email ``user`` a one-time link that confirms their current address.

    Earlier unused links for the account stop working, so only the newest one counts.
    """
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    now = timezone.now()
    with transaction.atomic():
        EmailConfirmation.objects.filter(user=user, used_at__isnull=True).update(expires_at=now)
        confirmation = EmailConfirmation.objects.create(
            user=user,
            email=user.email,
            token_hash=_token_hash(raw),
            expires_at=now + timedelta(days=settings.EMAIL_CONFIRMATION_DAYS),
        )
    link = _absolute_url(reverse("accounts:email_confirm", kwargs={"token": raw}), request)
    days = settings.EMAIL_CONFIRMATION_DAYS
    send_mail(
        subject="Confirm your email address",
        message=(
            f"Hi {user.name},\n\n"
            f"Please confirm that {user.email} is your address by opening this link:\n\n"
            f"{link}\n\n"
            f"The link works once and expires in {days} days. If you did not sign up, "
            "ignore this message.\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    return confirmation


def email_confirmation_check(*, raw_token: str) -> EmailConfirmation:
    """The confirmation behind ``raw_token`` if it can still be used; else a ValidationError
    that says what went wrong and what to do."""
    confirmation = (
        EmailConfirmation.objects.select_related("user")
        .filter(token_hash=_token_hash(raw_token or ""))
        .first()
    )
    if confirmation is None:
        raise ValidationError(
            "This confirmation link is not valid. Check that you copied the whole link, or "
            "ask for a new one from your verification settings.",
            code="invalid",
        )
    if confirmation.used_at is not None:
        raise ValidationError(
            "This link has already been used. Your email address is confirmed.", code="used"
        )
    if timezone.now() >= confirmation.expires_at:
        raise ValidationError(
            "This confirmation link has expired (or a newer one was sent). Ask for a new one "
            "from your verification settings.",
            code="expired",
        )
    if confirmation.email.lower() != confirmation.user.email.lower():
        raise ValidationError(
            "Your email address changed after this link was sent. Ask for a new link.",
            code="email_changed",
        )
    return confirmation


# A sign-up's own task normally sends its link within seconds; the catch-up leaves accounts
# younger than this to it, so nobody gets two links (the second would void the first).
CONFIRMATION_CATCH_UP_GRACE = timedelta(minutes=10)
CONFIRMATION_CATCH_UP_BATCH = 500


def email_confirmations_catch_up(*, now: datetime | None = None) -> int:
    """Send the confirmation links that sign-ups could not queue (broker down); return how many.

    Run by beat every five minutes, so once the broker is back the backlog drains by itself.
    Covers accounts that joined within ``EMAIL_CONFIRMATION_DAYS`` and more than ten minutes
    ago, at most 500 a run; each gets one link, once (sending records it).
    """
    now = now or timezone.now()
    users = users_never_sent_a_confirmation(
        joined_after=now - timedelta(days=settings.EMAIL_CONFIRMATION_DAYS),
        joined_before=now - CONFIRMATION_CATCH_UP_GRACE,
    )[:CONFIRMATION_CATCH_UP_BATCH]
    sent = 0
    for user in users:
        email_confirmation_send(user=user)
        sent += 1
    if sent:
        logger.info("sent %d confirmation links that sign-ups had not queued", sent)
    return sent


def email_confirm(*, raw_token: str) -> User:
    """Use a confirmation link: it works once, until it expires. Returns the account."""
    with transaction.atomic():
        confirmation = email_confirmation_check(raw_token=raw_token)
        # Only one request can flip used_at from NULL, however many arrive at once.
        updated = EmailConfirmation.objects.filter(pk=confirmation.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if not updated:
            raise ValidationError(
                "This link has already been used. Your email address is confirmed.", code="used"
            )
    return confirmation.user


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
            success_url=_absolute_url(reverse("accounts:verification_return"), request)
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=_absolute_url(status_path, request) + "?checkout=cancelled",
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


def subscription_payment_fail(*, subscription: Subscription) -> Subscription:
    """A renewal payment failed: past due, badge kept for VERIFICATION_GRACE_DAYS.

    A second failure during the same grace period does not extend it.
    """
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.status != Subscription.Status.ACTIVE:
            return subscription
        subscription.status = Subscription.Status.PAST_DUE
        subscription.grace_until = timezone.now() + timedelta(days=settings.VERIFICATION_GRACE_DAYS)
        _subscription_save(subscription, "status", "grace_until")
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
    grace = timedelta(days=settings.VERIFICATION_GRACE_DAYS)
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
            subscription.grace_until = subscription.current_period_end + grace
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
            subscription.status = Subscription.Status.LAPSED
            subscription.ended_at = now
            _subscription_save(subscription, "status", "ended_at")
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
            return_url=_absolute_url(reverse("accounts:verification"), request),
        )
    except PaymentProviderError as exc:
        raise ValidationError(str(exc), code="provider_error") from exc
    if not url:
        raise ValidationError("There is no billing page for this subscription.", code="no_portal")
    return url


# --- Password and email changes -----------------------------------------------------------

# Security-event kinds of these flows.
PASSWORD_CHANGED_EVENT = SecurityEvent.PASSWORD_CHANGED
PASSWORD_RESET_EVENT = SecurityEvent.PASSWORD_RESET
EMAIL_CHANGED_EVENT = SecurityEvent.EMAIL_CHANGED
CURRENT_PASSWORD_WRONG_MESSAGE = "That is not your current password. Type it again."  # noqa: S105


def password_change_record(*, user: User, request=None) -> None:
    """Record a password changed on the settings page (the current password was the proof).

    Call it in the transaction that saved the password.
    """
    security_event_record(
        kind=PASSWORD_CHANGED_EVENT, user=user, request=request, details={"via": "settings"}
    )


def password_reset_complete(*, user: User, request=None) -> int:
    """After a password reset by emailed link: revoke the account's live API tokens and record
    the reset. Returns how many tokens were revoked.

    A reset means the old password may be known to someone else, and tokens outlive passwords;
    sessions need nothing here (a new password changes the session hash, which logs every
    other session out). Call it in the transaction that saved the password.
    """
    with transaction.atomic():
        tokens = tokens_revoke_all(user=user)
        security_event_record(
            kind=PASSWORD_RESET_EVENT,
            user=user,
            request=request,
            details={"via": "email_link", "tokens_revoked": [token.pk for token in tokens]},
        )
    return len(tokens)


def user_email_change_with_password(
    *, user: User, email: str, current_password: str, request=None
) -> str:
    """The settings "Email" tab: move the account to a new address, with its current password
    as the proof. Returns the old address, to be told of the change.

    ``user_email_change`` refuses a mailbox another account has. The new address counts as
    unconfirmed until its own link is used (``email_is_confirmed``): the caller sends that link
    and the notice to the old address after the commit.
    """
    if not user.check_password(current_password or ""):
        raise ValidationError(
            {
                "current_password": ValidationError(
                    CURRENT_PASSWORD_WRONG_MESSAGE, code="password_incorrect"
                )
            }
        )
    if email_normalize(email) == user.email:
        raise ValidationError({"email": ["That is already your address. Type the new one."]})
    old_email = user.email
    with transaction.atomic():
        user_email_change(user=user, email=email)
        security_event_record(
            kind=EMAIL_CHANGED_EVENT,
            user=user,
            request=request,
            details={"old_email": old_email, "new_email": user.email},
        )
    return old_email


def email_change_notice_send(*, user: User, old_email: str) -> None:
    """Tell the account's previous address that its email changed, so a takeover does not go
    unnoticed (the new address gets its own confirmation link)."""
    send_mail(
        subject="Your email address was changed",
        message=(
            f"Hi {user.name},\n\n"
            f"The email address of your account @{user.username} was changed at "
            f"{timezone.now():%Y-%m-%d %H:%M} UTC. From now on we send its mail to the new "
            f"address, and {old_email} can no longer be used to reset its password.\n\n"
            "If you made this change, there is nothing to do.\n\n"
            "If you did not, someone who knows your password has your account: reply to this "
            "message right away so that the site's administrators can give it back to you, "
            "and stop using that password anywhere else.\n"
        ),
        from_email=None,
        recipient_list=[old_email],
    )

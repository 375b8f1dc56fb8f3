"""Writes for accounts: sign-up, profile and email changes, API tokens, email confirmation.
(Paid verification's writes are in verification/services.py.)"""

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

from core.audit import security_event_record
from core.models import SecurityEvent
from core.site import absolute_url

from .models import EMAIL_TAKEN_MESSAGE, ApiToken, EmailConfirmation, User
from .selectors import (
    email_normalize,
    user_email_taken,
    username_taken,
    users_never_sent_a_confirmation,
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
    link = absolute_url(reverse("accounts:email_confirm", kwargs={"token": raw}), request)
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

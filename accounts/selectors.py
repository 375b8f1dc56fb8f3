"""Reads for accounts: lookups by name, email and token; tiers; email confirmation."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from .emails import email_canonical, email_normalize
from .models import ApiToken, EmailConfirmation, Tier, User
from .validators import USERNAME_RE

_TIER_CACHE_ATTR = "_effective_tier"


def username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def users_by_mailbox(email: str) -> QuerySet[User]:
    """The accounts behind this address: those holding its mailbox (``email_canonical``), and
    the one with this exact address (for accounts whose canonical form is blank: duplicates
    from before it existed; see migration 0005). None for an address without a mailbox."""
    canonical = email_canonical(email)
    if not canonical:
        return User.objects.none()
    # Both sides are indexed: the canonical constraint, and user_email_ci_unique on Lower(email).
    return User.objects.alias(email_lower=Lower("email")).filter(
        Q(email_canonical=canonical) | Q(email_lower=email_normalize(email))
    )


def user_email_taken(email: str, *, exclude_user: User | None = None) -> bool:
    """True when another account already uses this address or another spelling of its
    mailbox."""
    query = users_by_mailbox(email)
    if exclude_user is not None:
        query = query.exclude(pk=exclude_user.pk)
    return query.exists()


def user_get_by_username(*, username: str) -> User | None:
    """The active account with this username (case-insensitive), or None.

    A string no username can be (a NUL byte, which PostgreSQL refuses outright; other
    characters; too long) is None without a query."""
    if not USERNAME_RE.fullmatch(username or ""):
        return None
    return User.objects.filter(username__iexact=username, is_active=True).first()


def token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token whose secret is ``raw``, with its user, or None."""
    if not raw or len(raw) > 200:
        return None
    return (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash_secret(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def token_list(*, user: User) -> QuerySet[ApiToken]:
    """A user's tokens, newest first (revoked ones included, marked)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def effective_tier_slug(user) -> str:
    """Which tier applies to ``user`` (None or anonymous: "anonymous"), by the one rule:
    admin override > staff > active paid verification > account age > unverified."""
    if user is None or not user.is_authenticated:
        return Tier.ANONYMOUS
    if user.tier_override_id is not None:
        return user.tier_override.slug
    if user.is_staff:
        return Tier.UNLIMITED
    if user.is_verified:
        return Tier.VERIFIED
    if timezone.now() - user.date_joined < timedelta(days=settings.NEW_ACCOUNT_DAYS):
        return Tier.NEW
    return Tier.UNVERIFIED


def effective_tier(user) -> Tier:
    """The Tier row that decides ``user``'s read budget.

    Cached on the user object, which lives for one request (``request.user``), so a tier or
    budget change takes effect on the next request and never leaks across requests.
    """
    cached = getattr(user, _TIER_CACHE_ATTR, None) if user is not None else None
    if cached is not None:
        return cached
    tier = Tier.objects.get(slug=effective_tier_slug(user))
    if user is not None:
        setattr(user, _TIER_CACHE_ATTR, tier)
    return tier


def email_is_confirmed(*, user: User) -> bool:
    """True when the account's current email address was confirmed through a link."""
    return EmailConfirmation.objects.filter(
        user=user, email__iexact=user.email, used_at__isnull=False
    ).exists()


def users_never_sent_a_confirmation(*, joined_after, joined_before) -> QuerySet[User]:
    """Active accounts that joined in the window and were never sent a confirmation link for
    their current address: their sign-up could not queue the email (the broker was down)."""
    sent = EmailConfirmation.objects.filter(user=OuterRef("pk"), email__iexact=OuterRef("email"))
    return (
        User.objects.filter(
            is_active=True, date_joined__gt=joined_after, date_joined__lte=joined_before
        )
        .exclude(email="")
        .filter(~Exists(sent))
        .order_by("pk")
    )

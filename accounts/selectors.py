"""Reads for accounts: lookups by name, email and token."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import BaseUserManager
from django.db.models import QuerySet
from django.utils import timezone

from .models import ApiToken, Tier, User

_TIER_CACHE_ATTR = "_effective_tier"


def email_normalize(email: str) -> str:
    """Lower-case the whole address: we treat emails as case-insensitive everywhere."""
    return BaseUserManager.normalize_email((email or "").strip()).lower()


def username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def user_email_taken(email: str) -> bool:
    return User.objects.filter(email__iexact=email_normalize(email)).exists()


def user_get_by_username(*, username: str) -> User | None:
    """The active account with this username (case-insensitive), or None."""
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

"""Reads for accounts: lookups by name, email and token."""

from django.contrib.auth.models import BaseUserManager
from django.db.models import QuerySet

from .models import ApiToken, User


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

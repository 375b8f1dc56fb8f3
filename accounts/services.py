"""Writes for accounts: sign-up, profile edits and API tokens."""

import secrets

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import ApiToken, User
from .selectors import email_normalize, user_email_taken, username_taken
from .validators import validate_username

TOKEN_BYTES = 32


def user_create(*, username: str, email: str, password: str, display_name: str = "") -> User:
    """Create an account after checking the username, email and password rules."""
    username = (username or "").strip()
    email = email_normalize(email)
    validate_username(username)
    errors: dict[str, list[str]] = {}
    if username_taken(username):
        errors["username"] = ["That username is taken."]
    if user_email_taken(email):
        errors["email"] = ["An account with that email already exists."]
    if errors:
        raise ValidationError(errors)
    user = User(username=username, email=email, display_name=display_name.strip())
    password_validation.validate_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # lost a race with a concurrent sign-up
        raise ValidationError({"username": ["That username or email is taken."]}) from exc
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
    return token, raw


def token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token: it stops working on the next request. Revoking twice changes nothing."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


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

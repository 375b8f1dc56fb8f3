"""Reads for OAuth: authenticating a client, and the apps a person has authorized."""

import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from ..models import ApiToken, User
from .models import OAuthApplication, secret_hash

# client_ids are ``secrets.token_urlsafe``: anything else names no app. Checked before the
# query, because PostgreSQL refuses text with a NUL in it (a 500, found by the fuzzer).
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def application_by_client_id(*, client_id: object) -> OAuthApplication | None:
    """The app registered under ``client_id`` (suspended ones included), or None."""
    if not isinstance(client_id, str) or not CLIENT_ID_RE.fullmatch(client_id):
        return None
    return OAuthApplication.objects.filter(client_id=client_id).first()


def application_authenticate(
    *, client_id: object, client_secret: object
) -> OAuthApplication | None:
    """The app whose id and secret these are, or None. The secret's hash is compared in
    constant time, so timing tells nothing about how much of a guess was right."""
    application = application_by_client_id(client_id=client_id)
    given = secret_hash(client_secret) if isinstance(client_secret, str) else ""
    stored = application.client_secret_hash if application is not None else "0" * 64
    if not hmac.compare_digest(given.encode(), stored.encode()) or application is None:
        return None
    return application


@dataclass(frozen=True)
class AuthorizedApp:
    """One app a person has let act for them: what it may do, since when, when last used."""

    application: OAuthApplication
    scopes: list[str]
    authorized_at: datetime
    last_used_at: datetime | None
    token_count: int


def authorized_apps(*, user: User) -> list[AuthorizedApp]:
    """The apps holding a live token of ``user``, most recently authorized first."""
    tokens: QuerySet[ApiToken] = (
        ApiToken.objects.filter(user=user, application__isnull=False, revoked_at__isnull=True)
        .select_related("application")
        .order_by("created_at")
    )
    by_app: dict[int, list[ApiToken]] = {}
    for token in tokens:
        by_app.setdefault(token.application_id, []).append(token)
    result = []
    for app_tokens in by_app.values():
        scopes: list[str] = []
        for token in app_tokens:
            scopes += [scope for scope in token.scope_list if scope not in scopes]
        used = [token.last_used_at for token in app_tokens if token.last_used_at]
        result.append(
            AuthorizedApp(
                application=app_tokens[0].application,
                scopes=scopes,
                authorized_at=app_tokens[-1].created_at,
                last_used_at=max(used) if used else None,
                token_count=len(app_tokens),
            )
        )
    return sorted(result, key=lambda item: item.authorized_at, reverse=True)

"""Writes for OAuth: registering apps, issuing and exchanging codes, issuing and revoking the
tokens apps hold, and suspending an app. Refusals are oauthlib's error classes, so the HTTP
faces answer with RFC 6749's error names."""

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauthlib.uri_validate import is_absolute_uri

from core.audit import admin_action_log
from core.models import AdminActionLog

from ..models import ApiToken, User
from ..profiles import text_is_clean
from ..services import TOKEN_BYTES, token_revoke
from .models import OAuthApplication, OAuthAuthorizationCode, secret_hash
from .scopes import scopes_within

OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
# Schemes that would run or read something in the browser instead of handing the code over.
FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "about", "blob"})


def redirect_uri_check(uri: str) -> str | None:
    """Why ``uri`` cannot be a redirect URI, or None when it can: ``oob``, http(s) URLs and
    custom schemes ("icecubesapp://"), without a fragment (RFC 6749 §3.1.2)."""
    if uri == OOB_REDIRECT_URI:
        return None
    if len(uri) > 2000 or not text_is_clean(uri) or not is_absolute_uri(uri):
        return f"{uri[:100]!r} is not an absolute URI."
    scheme = uri.split(":", 1)[0].lower()
    if scheme in FORBIDDEN_SCHEMES:
        return f"the {scheme}: scheme cannot receive a code."
    if scheme in ("http", "https") and not uri.split("://", 1)[-1].split("/", 1)[0]:
        return f"{uri[:100]!r} has no host."
    return None


def application_create(
    *, name: str, redirect_uris: list[str], scopes: list[str], website: str = ""
) -> tuple[OAuthApplication, str]:
    """Register an app; returns it and its client secret (only a hash is kept). Raises
    ValidationError by field (``client_name``, ``website``, ``redirect_uris``)."""
    unclean = "Control characters (such as NUL) cannot be saved; remove them and try again."
    refused = {
        field: [unclean]
        for field, value in (("client_name", name), ("website", website))
        if not text_is_clean(value)
    }
    problems = [problem for uri in redirect_uris if (problem := redirect_uri_check(uri))]
    if not redirect_uris:
        problems.append("give at least one redirect URI.")
    if problems:
        refused["redirect_uris"] = problems
    if refused:
        raise ValidationError(refused)
    raw_secret = secrets.token_urlsafe(TOKEN_BYTES)
    application = OAuthApplication.objects.create(
        name=name.strip()[:100],
        website=website[:500],
        redirect_uris=" ".join(dict.fromkeys(redirect_uris)),
        scopes=" ".join(scopes),
        client_id=secrets.token_urlsafe(TOKEN_BYTES),
        client_secret_hash=secret_hash(raw_secret),
    )
    return application, raw_secret


def _pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _refuse_if_suspended(application: OAuthApplication) -> None:
    if application.is_suspended:
        raise oauth_errors.InvalidClientError(description="This app is suspended on this server.")


def authorization_check(*, application: OAuthApplication, scopes: list[str]) -> None:
    """Refuse to authorize ``application`` for ``scopes``: InvalidClientError when it is
    suspended, InvalidScopeError when ``scopes`` is empty or beyond its registered ones. The
    consent page calls this before asking; issuing a code or token checks again."""
    _refuse_if_suspended(application)
    if not scopes or not scopes_within(scopes, application.scope_list):
        raise oauth_errors.InvalidScopeError(
            description="The requested scope is not among the app's registered scopes."
        )


def authorization_code_issue(
    *,
    application: OAuthApplication,
    user: User,
    redirect_uri: str,
    scopes: list[str],
    code_challenge: str = "",
) -> str:
    """Issue a one-time code for ``user``'s consent; returns the raw code (only its hash is
    kept). The caller has checked the redirect URI against the app; a suspended app or
    scopes beyond its own are refused (see ``authorization_check``)."""
    authorization_check(application=application, scopes=scopes)
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    OAuthAuthorizationCode.objects.create(
        code_hash=secret_hash(raw),
        application=application,
        user=user,
        redirect_uri=redirect_uri,
        scopes=" ".join(scopes),
        code_challenge=code_challenge,
        expires_at=timezone.now() + timedelta(seconds=settings.OAUTH_CODE_LIFETIME_SECONDS),
    )
    return raw


def _token_issue(
    *, application: OAuthApplication, user: User | None, scopes: list[str]
) -> tuple[ApiToken, str]:
    _refuse_if_suspended(application)
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken.objects.create(
        user=user,
        application=application,
        name=application.name,
        token_hash=ApiToken.hash_secret(raw),
        token_prefix=raw[:8],
        scopes=" ".join(scopes),
    )
    return token, raw


def token_exchange_code(
    *, application: OAuthApplication, code: object, redirect_uri: object, code_verifier: object
) -> tuple[ApiToken, str]:
    """Exchange an authorization code for a token (RFC 6749 §4.1.3 with RFC 9700's rules).

    The code must be unused, unexpired, issued to this app for exactly this redirect URI,
    and match its PKCE challenge when one was sent (a verifier without a challenge is refused:
    a downgrade). A code presented twice revokes the token it was first exchanged for.
    """
    _refuse_if_suspended(application)  # before the code is touched: a suspended app burns none
    if not isinstance(code, str) or not code:
        raise oauth_errors.InvalidRequestError(description="code: give the authorization code.")
    invalid = oauth_errors.InvalidGrantError(
        description="The authorization code is invalid, expired or already used. "
        "Start the log-in again."
    )
    # One transaction under the code's lock: a second exchange (even a concurrent one) sees
    # the code used and the token it gave. Refusals are raised after the commit, so a
    # replay's revocation and a failed try's burning of the code both stick.
    with transaction.atomic():
        grant = (
            # Only the code's row (PostgreSQL cannot lock the nullable side of the join).
            OAuthAuthorizationCode.objects.select_for_update(of=("self",))
            .select_related("user", "token")
            .filter(code_hash=secret_hash(code))
            .first()
        )
        if grant is None or grant.application_id != application.pk:
            raise invalid
        if grant.used_at is not None:
            if grant.token is not None:
                token_revoke(token=grant.token)
            refusal: Exception | None = invalid
        else:
            grant.used_at = timezone.now()
            refusal = _code_refusal(grant, redirect_uri=redirect_uri, code_verifier=code_verifier)
            if refusal is None:
                grant.token, raw = _token_issue(
                    application=application, user=grant.user, scopes=grant.scopes.split()
                )
            grant.save(update_fields=["used_at", "token"])
    if refusal is not None:
        raise refusal
    return grant.token, raw


def _code_refusal(
    grant: OAuthAuthorizationCode, *, redirect_uri: object, code_verifier: object
) -> Exception | None:
    """Why an unused code cannot be exchanged by this request, or None."""
    if grant.expires_at <= timezone.now() or not grant.user.is_active:
        return oauth_errors.InvalidGrantError(
            description="The authorization code has expired. Start the log-in again."
        )
    if redirect_uri != grant.redirect_uri:
        return oauth_errors.InvalidGrantError(
            description="redirect_uri must be exactly the one the code was sent to."
        )
    verifier = code_verifier if isinstance(code_verifier, str) else ""
    if not grant.code_challenge and not verifier:
        return None
    if not grant.code_challenge:
        return oauth_errors.InvalidGrantError(
            description="code_verifier sent, but the authorization request had no code_challenge."
        )
    if not hmac.compare_digest(_pkce_s256(verifier), grant.code_challenge):
        return oauth_errors.InvalidGrantError(
            description="code_verifier does not match the code_challenge."
        )
    return None


def token_issue_client_credentials(
    *, application: OAuthApplication, scopes: list[str]
) -> tuple[ApiToken, str]:
    """A token for the app itself, acting for nobody (RFC 6749 §4.4): it reads as a
    logged-out caller and can verify the app's credentials."""
    authorization_check(application=application, scopes=scopes)
    return _token_issue(application=application, user=None, scopes=scopes)


def token_revoke_for_application(*, application: OAuthApplication, raw_token: object) -> None:
    """Revoke ``raw_token`` if this app holds it (RFC 7009: any other token changes nothing,
    and the answer is the same, so a client learns nothing about other apps' tokens)."""
    if not isinstance(raw_token, str) or not raw_token or len(raw_token) > 200:
        return
    token = ApiToken.objects.filter(
        token_hash=ApiToken.hash_secret(raw_token), application=application
    ).first()
    if token is not None:
        token_revoke(token=token)


def application_authorization_revoke(*, user: User, application: OAuthApplication) -> int:
    """A person takes back an app's access: every token it holds for them is revoked."""
    with transaction.atomic():
        tokens = list(
            ApiToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(user=user, application=application, revoked_at__isnull=True)
        )
        for token in tokens:
            token_revoke(token=token)
    return len(tokens)


def application_suspend(
    *, application: OAuthApplication, actor: User | None, reason: str = ""
) -> OAuthApplication:
    """A reviewer suspends an app: every token it holds stops working on the next request,
    and it can get no new ones. Recorded in the admin action log; suspending twice changes
    nothing more."""
    with transaction.atomic():
        application = OAuthApplication.objects.select_for_update().get(pk=application.pk)
        if application.suspended_at is not None:
            return application
        application.suspended_at = timezone.now()
        application.suspension_reason = reason
        application.save(update_fields=["suspended_at", "suspension_reason"])
        admin_action_log(
            actor=actor,
            action=AdminActionLog.Action.APP_SUSPEND,
            target=application,
            reason=reason,
            details={"application_id": application.pk, "name": application.name},
        )
    return application


def application_unsuspend(
    *, application: OAuthApplication, actor: User | None, reason: str = ""
) -> OAuthApplication:
    """Lift a suspension: the app's unrevoked tokens work again. Recorded like the suspension."""
    with transaction.atomic():
        application = OAuthApplication.objects.select_for_update().get(pk=application.pk)
        if application.suspended_at is None:
            return application
        application.suspended_at = None
        application.save(update_fields=["suspended_at"])
        admin_action_log(
            actor=actor,
            action=AdminActionLog.Action.APP_UNSUSPEND,
            target=application,
            reason=reason,
            details={"application_id": application.pk, "name": application.name},
        )
    return application

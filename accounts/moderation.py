"""What an admin or a reviewer does to an account: change its tier override, suspend it,
revoke its tokens. One service per action, called by the Django admin and by the review
screens alike, each writing the admin action log (and the security event, for a tier change)
inside its own transaction, with the same details whoever calls it.

A caller acting on a flag passes its own ``action`` name (``flag_restrict_tier``, …) and the
flag in ``details``, so the flag's page lists what was done about it.
"""

from collections.abc import Callable

from django.db import transaction

from core.audit import admin_action_log, security_event_record
from core.models import AdminActionLog, SecurityEvent

from .models import ApiToken, Tier, User
from .services import tokens_revoke_all

Action = AdminActionLog.Action

# Called with ``user_id=`` whenever an account is suspended or reinstated, inside the
# transaction that does it. Apps above accounts register here at start-up (feeds: the
# materialised home timelines take a suspended author's posts out and put them back).
_visibility_listeners: list[Callable[..., None]] = []


def account_visibility_listener_register(listener: Callable[..., None]) -> None:
    """Register ``listener(user_id=…)`` for suspensions and reinstatements."""
    if listener not in _visibility_listeners:
        _visibility_listeners.append(listener)


def account_visibility_changed(*, user_id: int) -> None:
    """Tell the registered listeners that ``user_id`` was suspended or reinstated."""
    for listener in _visibility_listeners:
        listener(user_id=user_id)


def user_tier_override_set(
    *,
    user: User,
    tier: Tier | None,
    actor: User | None,
    reason: str = "",
    request=None,
    action: str = Action.TIER_OVERRIDE,
    details: dict | None = None,
) -> AdminActionLog:
    """Set (or clear, with None) the tier that wins over everything for ``user``; recorded as
    ``action`` in the admin action log and as a ``tier_changed`` security event with
    ``from``/``to``/``by``. Takes effect on the next request."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        previous = (
            Tier.objects.filter(pk=locked.tier_override_id).values_list("slug", flat=True).first()
        )
        user.tier_override = tier
        user.save(update_fields=["tier_override"])
        change = {"from": previous, "to": tier.slug if tier else None, "by": actor and actor.pk}
        extra = details or {}
        security_event_record(
            kind=SecurityEvent.TIER_CHANGED,
            user=user,
            request=request,
            details={**change, **({"flag": extra["flag_id"]} if "flag_id" in extra else {})},
        )
        return admin_action_log(
            actor=actor,
            action=action,
            target=user,
            reason=reason,
            details={
                "previous_override": previous,
                "tier": change["to"],
                "budget": tier.daily_read_budget if tier else None,
                **extra,
            },
        )


def user_suspend(
    *,
    user: User,
    actor: User | None,
    reason: str,
    action: str = Action.ACCOUNT_SUSPEND,
    details: dict | None = None,
) -> AdminActionLog:
    """Deactivate ``user``: their sessions and tokens stop working at once."""
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        account_visibility_changed(user_id=user.pk)
        return admin_action_log(
            actor=actor, action=action, target=user, reason=reason, details=details or {}
        )


def user_tokens_revoke(
    *,
    user: User,
    actor: User | None,
    reason: str,
    action: str = Action.TOKENS_REVOKE,
    details: dict | None = None,
) -> list[ApiToken]:
    """Revoke every live API token of ``user`` (each a ``token_revoked`` security event);
    return the tokens revoked."""
    with transaction.atomic():
        tokens = tokens_revoke_all(user=user)
        admin_action_log(
            actor=actor,
            action=action,
            target=user,
            reason=reason,
            details={"token_ids": [token.pk for token in tokens], **(details or {})},
        )
    return tokens

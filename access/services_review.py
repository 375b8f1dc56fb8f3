"""What a reviewer does about a flag: dismiss it, or act on the account, its tokens or its network.

Every action runs in one transaction that locks the flag, does the work, writes the admin
action log (who, what, target, reason, when; the flag id in ``details``) and records the
outcome on the flag, so the flag page shows what was done and the log can never disagree.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Tier, User
from accounts.moderation import user_suspend, user_tier_override_set, user_tokens_revoke
from core.audit import admin_action_log
from core.models import AdminActionLog

from .models import Flag
from .services import ip_block_add

DISMISS = AdminActionLog.Action.FLAG_DISMISS
RESTRICT_TIER = AdminActionLog.Action.FLAG_RESTRICT_TIER
SUSPEND = AdminActionLog.Action.FLAG_SUSPEND
REVOKE_TOKENS = AdminActionLog.Action.FLAG_REVOKE_TOKENS
BLOCK_PREFIX = AdminActionLog.Action.FLAG_BLOCK_PREFIX
EXPORT = AdminActionLog.Action.ACCESS_LOG_EXPORT

# What a reviewer may do about a flag, labelled as the action log names them.
ACTION_LABELS = {
    action: AdminActionLog.Action(action).label
    for action in (DISMISS, RESTRICT_TIER, SUSPEND, REVOKE_TOKENS, BLOCK_PREFIX)
}


@dataclass(frozen=True)
class ActionResult:
    """What an action changed, in words for the reviewer's message."""

    flag: Flag
    message: str


def _reason_clean(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason: it goes into the admin action log.")
    return reason[:1000]


def _flag_lock(flag: Flag) -> Flag:
    return Flag.objects.select_for_update().get(pk=flag.pk)


def _flag_user(flag: Flag) -> User:
    if flag.user_id is None:
        raise ValidationError("This flag is about a network, not an account.")
    return User.objects.select_for_update().get(pk=flag.user_id)


def _flag_resolve(flag: Flag, *, actor: User, status: str, note: str) -> None:
    flag.status = status
    flag.resolved_at = timezone.now()
    flag.resolved_by = actor
    flag.resolution = f"{flag.resolution}\n{note}".strip()
    flag.updated_at = flag.resolved_at
    flag.save(update_fields=["status", "resolved_at", "resolved_by", "resolution", "updated_at"])


def _flag_details(flag: Flag) -> dict:
    """What every action on a flag records about it, so the flag page can list them."""
    return {"flag_id": flag.pk, "rule": flag.rule, "principal": flag.principal}


def _log(*, actor, action, target, reason, flag: Flag, **details) -> AdminActionLog:
    return admin_action_log(
        actor=actor,
        action=action,
        target=target,
        reason=reason,
        details={**_flag_details(flag), **details},
    )


def flag_dismiss(*, flag: Flag, actor: User, reason: str) -> ActionResult:
    """Close a flag as a false alarm; the detectors will not raise it again on this evidence."""
    reason = _reason_clean(reason)
    with transaction.atomic():
        flag = _flag_lock(flag)
        _log(actor=actor, action=DISMISS, target=flag, reason=reason, flag=flag)
        _flag_resolve(flag, actor=actor, status=Flag.DISMISSED, note=f"Dismissed: {reason}")
    return ActionResult(flag, f"Flag dismissed: {flag}.")


def flag_restrict_tier(*, flag: Flag, actor: User, reason: str) -> ActionResult:
    """Put the flagged account on the "restricted" tier (its override wins over everything)."""
    reason = _reason_clean(reason)
    with transaction.atomic():
        flag = _flag_lock(flag)
        user = _flag_user(flag)
        restricted = Tier.objects.get(slug=Tier.RESTRICTED)
        user_tier_override_set(
            user=user,
            tier=restricted,
            actor=actor,
            reason=reason,
            action=RESTRICT_TIER,
            details=_flag_details(flag),
        )
        _flag_resolve(
            flag, actor=actor, status=Flag.ACTIONED, note=f"Restricted {user}'s tier: {reason}"
        )
    return ActionResult(flag, f"{user} is now on the {restricted.name} tier.")


def flag_suspend(*, flag: Flag, actor: User, reason: str) -> ActionResult:
    """Deactivate the flagged account: its sessions and tokens stop working at once."""
    reason = _reason_clean(reason)
    with transaction.atomic():
        flag = _flag_lock(flag)
        user = _flag_user(flag)
        if user.is_superuser:
            raise ValidationError("A superuser cannot be suspended from the review queue.")
        user_suspend(
            user=user, actor=actor, reason=reason, action=SUSPEND, details=_flag_details(flag)
        )
        _flag_resolve(flag, actor=actor, status=Flag.ACTIONED, note=f"Suspended {user}: {reason}")
    return ActionResult(flag, f"{user} is suspended.")


def flag_revoke_tokens(*, flag: Flag, actor: User, reason: str) -> ActionResult:
    """Revoke every active API token of the flagged account."""
    reason = _reason_clean(reason)
    with transaction.atomic():
        flag = _flag_lock(flag)
        user = _flag_user(flag)
        tokens = user_tokens_revoke(
            user=user,
            actor=actor,
            reason=reason,
            action=REVOKE_TOKENS,
            details=_flag_details(flag),
        )
        _flag_resolve(
            flag,
            actor=actor,
            status=Flag.ACTIONED,
            note=f"Revoked {len(tokens)} token(s) of {user}: {reason}",
        )
    return ActionResult(flag, f"Revoked {len(tokens)} token(s) of {user}.")


def flag_block_prefix(*, flag: Flag, actor: User, reason: str) -> ActionResult:
    """Block the network the flag points at (IPv4 /24 or IPv6 /64) with a 403 for everyone."""
    reason = _reason_clean(reason)
    with transaction.atomic():
        flag = _flag_lock(flag)
        if not flag.ip_prefix:
            raise ValidationError("This flag names no IP prefix to block.")
        block = ip_block_add(
            prefix=flag.ip_prefix,
            reason=reason,
            actor=actor,
            action=BLOCK_PREFIX,
            details=_flag_details(flag),
        )
        _flag_resolve(
            flag, actor=actor, status=Flag.ACTIONED, note=f"Blocked {block.prefix}: {reason}"
        )
    return ActionResult(flag, f"{block.prefix} is blocked.")


ACTIONS = {
    DISMISS: flag_dismiss,
    RESTRICT_TIER: flag_restrict_tier,
    SUSPEND: flag_suspend,
    REVOKE_TOKENS: flag_revoke_tokens,
    BLOCK_PREFIX: flag_block_prefix,
}


def access_log_export_record(*, actor: User, filters: dict, count: int) -> AdminActionLog:
    """Record that ``actor`` exported ``count`` access-log records matching ``filters``."""
    return admin_action_log(
        actor=actor,
        action=EXPORT,
        target=None,
        reason="CSV export of the access log",
        details={"filters": filters, "count": count},
    )

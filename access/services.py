"""Writes for access controls: housekeeping of the read ledgers and of the access log, and IP
blocks (one service each for adding, changing and lifting one, used by the admin and the
review screens alike)."""

from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from core.audit import admin_action_log
from core.models import AdminActionLog

from .gate import window_day
from .ipblock import ip_blocks_changed
from .models import AccessLogEntry, IPBlock, ReadDay, ReadReceipt

# The transaction-local flag the PostgreSQL trigger (migration 0004) checks before it lets a
# DELETE on the access log through. Nothing but ``access_log_purge`` sets it.
ACCESS_LOG_PURGE_FLAG = "microblog.access_log_purge"


def read_ledger_purge(*, keep_days: int | None = None) -> int:
    """Delete database-ledger rows for days older than ``keep_days`` (default from settings).

    Returns how many rows went. Idempotent. (The Redis ledger's keys expire by themselves.)
    """
    keep = settings.ACCESS_LEDGER_RETENTION_DAYS if keep_days is None else keep_days
    cutoff = window_day() - timedelta(days=keep)
    with transaction.atomic():
        receipts, _ = ReadReceipt.objects.filter(day__lt=cutoff).delete()
        days, _ = ReadDay.objects.filter(day__lt=cutoff).delete()
    return receipts + days


def access_log_purge(
    *, retention_days: int | None = None, batch_size: int | None = None, now: datetime | None = None
) -> int:
    """Delete access-log records older than the retention period, in batches. Returns how many.

    The purge is recorded first (admin action log, actor None: the system), with the cutoff and
    how many records it is about to delete, so no deletion ever goes unrecorded, even if the
    run dies half way (the next run records and deletes the rest). Idempotent.
    """
    days = settings.ACCESS_LOG_RETENTION_DAYS if retention_days is None else retention_days
    batch = batch_size or settings.ACCESS_LOG_PURGE_BATCH
    cutoff = (now or timezone.now()) - timedelta(days=days)
    older = AccessLogEntry.objects.filter(created_at__lt=cutoff)
    admin_action_log(
        actor=None,
        action=AdminActionLog.Action.ACCESS_LOG_PURGE,
        target=None,
        reason=f"Retention: access-log records are kept {days} days.",
        details={"cutoff": cutoff.isoformat(), "to_delete": older.count(), "batch_size": batch},
    )
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(older.order_by("created_at").values_list("pk", flat=True)[:batch])
            if not ids:
                break
            with _purge_flag():
                count, _ = AccessLogEntry.objects.filter(pk__in=ids).delete()
            deleted += count
    return deleted


@contextmanager
def _purge_flag():
    """On PostgreSQL, let the append-only trigger allow this DELETE (and nothing after it).

    ``set_config(..., true)`` is ``SET LOCAL``: it ends with the transaction at the latest; it
    is also switched off straight after, in case the purge runs inside a larger transaction.
    """
    connection = connections[AccessLogEntry.objects.db]
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [ACCESS_LOG_PURGE_FLAG])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'off', true)", [ACCESS_LOG_PURGE_FLAG])


# --- IP blocks ------------------------------------------------------------------------------


def ip_block_add(
    *,
    prefix: str,
    reason: str,
    actor,
    expires_at: datetime | None = None,
    action: str = AdminActionLog.Action.IP_BLOCK_ADD,
    details: dict | None = None,
) -> IPBlock:
    """Block ``prefix`` (a clear 403 for everyone behind it); blocking it again keeps the
    first block. Recorded in the admin action log; every web process hears of it on commit."""
    with transaction.atomic():
        block, created = IPBlock.objects.get_or_create(
            prefix=prefix,
            defaults={
                "reason": reason,
                "created_by": actor,
                "created_at": timezone.now(),
                "expires_at": expires_at,
            },
        )
        admin_action_log(
            actor=actor,
            action=action,
            target=block,
            reason=reason,
            details={"prefix": block.prefix, "already_blocked": not created, **(details or {})},
        )
        transaction.on_commit(ip_blocks_changed)
    return block


def ip_block_change(*, block: IPBlock, actor, changed: list[str]) -> IPBlock:
    """Save an edited block (reason, expiry); recorded with the fields that changed."""
    with transaction.atomic():
        block.save()
        admin_action_log(
            actor=actor,
            action=AdminActionLog.Action.IP_BLOCK_CHANGE,
            target=block,
            reason=block.reason,
            details={"prefix": block.prefix, "changed": changed},
        )
        transaction.on_commit(ip_blocks_changed)
    return block


def ip_block_remove(*, block: IPBlock, actor, reason: str) -> None:
    """Lift a block; recorded before the row goes, so the log still names the prefix."""
    with transaction.atomic():
        admin_action_log(
            actor=actor,
            action=AdminActionLog.Action.IP_BLOCK_REMOVE,
            target=block,
            reason=reason,
            details={"prefix": block.prefix},
        )
        block.delete()
        transaction.on_commit(ip_blocks_changed)

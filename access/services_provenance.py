"""Writes on delivery provenance beyond the gate's own: the recorded retention purge."""

from contextlib import contextmanager
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from core.audit import admin_action_log
from core.models import AdminActionLog

from .models import DeliveryProvenance

# The transaction-local flag the PostgreSQL trigger checks before it lets a DELETE through
# (migration access_provenance_append_only_gin). Nothing but ``provenance_purge`` sets it.
PROVENANCE_PURGE_FLAG = "microblog.provenance_purge"


def provenance_purge(*, keep_days: int | None = None, now: datetime | None = None) -> int:
    """Delete provenance older than ``ACCESS_PROVENANCE_DAYS``, recorded first. Idempotent.

    Like the access-log purge: the admin action log says what is about to go (cutoff, how
    many rows) before anything is deleted, so no deletion goes unrecorded.
    """
    days = settings.ACCESS_PROVENANCE_DAYS if keep_days is None else keep_days
    cutoff: date = (now or timezone.now()).date() - timedelta(days=days)
    older = DeliveryProvenance.objects.filter(day__lt=cutoff)
    admin_action_log(
        actor=None,
        action=AdminActionLog.Action.PROVENANCE_PURGE,
        target=None,
        reason=f"Retention: delivery provenance is kept {days} days.",
        details={"cutoff": cutoff.isoformat(), "to_delete": older.count()},
    )
    deleted = 0
    batch = settings.ACCESS_LOG_PURGE_BATCH
    while True:
        with transaction.atomic():
            ids = list(older.order_by("day").values_list("pk", flat=True)[:batch])
            if not ids:
                break
            with _purge_flag():
                count, _ = DeliveryProvenance.objects.filter(pk__in=ids).delete()
            deleted += count
    return deleted


@contextmanager
def _purge_flag():
    """On PostgreSQL, let the append-only trigger allow this DELETE (``SET LOCAL``)."""
    connection = connections[DeliveryProvenance.objects.db]
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [PROVENANCE_PURGE_FLAG])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'off', true)", [PROVENANCE_PURGE_FLAG])

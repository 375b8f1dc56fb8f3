"""Writes for access controls: housekeeping of the read ledgers."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from .gate import window_day
from .models import ReadDay, ReadReceipt


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

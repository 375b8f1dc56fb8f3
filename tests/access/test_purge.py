"""Tests for the database ledger's housekeeping."""

from datetime import UTC, date, datetime

import time_machine

from access.ledgers import DatabaseLedger
from access.models import ReadDay, ReadReceipt
from access.tasks import read_ledger_purge_task


def test_purge_keeps_recent_days_and_is_idempotent(db, settings):
    """Ensures that days older than the retention go, recent ones stay, and a rerun is a no-op."""
    settings.ACCESS_LEDGER_RETENTION_DAYS = 2
    ledger = DatabaseLedger()
    for day in (date(2026, 11, 20), date(2026, 11, 24), date(2026, 11, 26)):
        ledger.charge(principal="user:1", day=day, limit=10, post_ids=[1, 2])
    with time_machine.travel(datetime(2026, 11, 26, 12, tzinfo=UTC), tick=False):
        assert read_ledger_purge_task() == 3  # one day row and its two receipts
        assert read_ledger_purge_task() == 0
    assert sorted(ReadDay.objects.values_list("day", flat=True)) == [
        date(2026, 11, 24),
        date(2026, 11, 26),
    ]
    assert ReadReceipt.objects.count() == 4

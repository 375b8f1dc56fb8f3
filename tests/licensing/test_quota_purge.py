"""Housekeeping of the database quota ledger: past months' per-day charge rows go."""

from datetime import UTC, date, datetime

import time_machine

from licensing.models import LicenceCharge
from licensing.quota import DatabaseQuotaLedger
from licensing.tasks import quota_charges_purge_task
from tests.licensing.conftest import make_licensee


def test_purge_drops_past_months_keeps_this_months_and_is_idempotent(db, settings):
    """Ensures that charge rows of past months go, the current month's stay (so the month's
    total and today's once-a-day dedup are untouched), a rerun is a no-op, and beat runs it."""
    entry = settings.CELERY_BEAT_SCHEDULE["licensing-purge-quota-charges"]
    assert entry["task"] == quota_charges_purge_task.name
    licence = make_licensee(quota=100).licence
    ledger = DatabaseQuotaLedger()
    for day in (date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 26)):
        ledger.charge(licence_id=licence.pk, day=day, quota=100, post_ids=[1, 2])
    with time_machine.travel(datetime(2026, 11, 26, 12, tzinfo=UTC), tick=False):
        assert quota_charges_purge_task() == 2  # October 31st's two rows
        assert quota_charges_purge_task() == 0
    assert sorted(set(LicenceCharge.objects.values_list("day", flat=True))) == [
        date(2026, 11, 1),
        date(2026, 11, 26),
    ]
    assert ledger.peek(licence_id=licence.pk, day=date(2026, 11, 26)) == 4
    again = ledger.charge(licence_id=licence.pk, day=date(2026, 11, 26), quota=100, post_ids=[1, 2])
    assert (again.delivered_ids, again.charged_ids, again.used) == ([1, 2], [], 4)

"""Celery shells for the licensed lane's housekeeping."""

from celery import shared_task

from .billing import licences_expire
from .quota import quota_charges_purge


@shared_task
def quota_charges_purge_task() -> int:
    """Daily: drop past months' per-day charge rows of the database quota ledger (idempotent)."""
    return quota_charges_purge()


@shared_task
def licences_expire_task() -> dict[str, int]:
    """Hourly: licences past their period or grace move to ended / lapsed (idempotent)."""
    return licences_expire()

"""Celery shells for access-control housekeeping."""

from celery import shared_task

from .services import read_ledger_purge


@shared_task
def read_ledger_purge_task() -> int:
    """Hourly: drop past days of the database read ledger (idempotent)."""
    return read_ledger_purge()

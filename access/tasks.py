"""Celery shells for access-control housekeeping and the access log."""

import logging

from celery import shared_task

from .audit import access_log_drain
from .services import access_log_purge, read_ledger_purge

logger = logging.getLogger(__name__)


@shared_task
def read_ledger_purge_task() -> int:
    """Hourly: drop past days of the database read ledger (idempotent)."""
    return read_ledger_purge()


@shared_task
def detect_bulk_access_task() -> dict:
    """Every minute: read the new access-log records and raise or grow flags (idempotent)."""
    from .detectors import detect_bulk_access

    run = detect_bulk_access()
    return {
        "entries_read": run.entries_read,
        "flags_created": run.flags_created,
        "flags_updated": run.flags_updated,
    }


@shared_task
def access_log_drain_task() -> int:
    """Every few seconds: move access-log records from the Redis stream to the database.

    Idempotent and safe in parallel: entries are acknowledged only after the commit, and a
    record stored twice is kept once (unique ``record_id``). With Redis down there is nothing
    to drain (the gate writes to the database meanwhile); the next run tries again.
    """
    import redis

    try:
        return access_log_drain()
    except redis.RedisError as exc:
        logger.warning("access log drain: Redis unavailable, will retry: %s", exc)
        return 0


@shared_task
def access_log_purge_task() -> int:
    """Daily: delete access-log records past ``ACCESS_LOG_RETENTION_DAYS`` (recorded)."""
    return access_log_purge()

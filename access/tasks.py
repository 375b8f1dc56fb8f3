"""Celery shells for access-control housekeeping and the access log."""

import logging

from celery import shared_task

from . import detectors
from .access_log_drain import access_log_drain
from .services import access_log_purge, read_ledger_purge

logger = logging.getLogger(__name__)


@shared_task
def read_ledger_purge_task() -> int:
    """Hourly: drop past days of the database read ledger (idempotent)."""
    return read_ledger_purge()


# A detector run is idempotent (one transaction per batch moves the cursor together with the
# flags it raised), so running it again after a crash is always safe; what must not happen is
# a run silently dropped. Acknowledged late: a worker killed mid-run leaves the message
# unacknowledged and the broker delivers it again (Redis: after its visibility timeout,
# RabbitMQ: when the connection drops). A killed pool process is noticed by the worker, which
# sends the run again a few seconds later (at most 3 times, so a run that keeps killing its
# process cannot loop forever; beat starts a fresh one every minute anyway).
DETECTOR_TASK_OPTIONS = {
    "acks_late": True,
    "retry_on_worker_lost": True,
    "reject_on_worker_lost": True,  # requeue instead, if sending that retry fails
    "max_retries": 3,
    "default_retry_delay": 5,
}


@shared_task(**DETECTOR_TASK_OPTIONS)
def detect_bulk_access_task(batch_size: int | None = None) -> dict:
    """Every minute: read the new access-log records and raise or grow flags (idempotent).

    ``batch_size`` (records per transaction) defaults to ``detectors.BATCH_SIZE``.
    """
    run = detectors.detect_bulk_access(batch_size=batch_size or detectors.BATCH_SIZE)
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

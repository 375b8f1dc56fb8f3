"""The access log's Redis stream drain: records the Redis ledger's script appended are moved
into the database by a consumer group, acknowledged only after the commit, idempotent by
``record_id`` (a crash between commit and XACK stores nothing twice)."""

import logging
import os
import random
import socket
import time
import uuid

import redis
from django.conf import settings
from django.db import transaction

from . import ledgers
from .access_log import AccessRecord, RecordOutcome, access_log_entry, access_log_stream_keys
from .models import AccessLogEntry, DeliveryProvenance
from .provenance import STREAM_FIELD, provenance_ids_parse, provenance_row

logger = logging.getLogger(__name__)

DRAIN_GROUP = "accesslog-drain"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def stream_entry_parse(fields: dict) -> tuple[AccessLogEntry, DeliveryProvenance | None]:
    """The unsaved ``AccessLogEntry`` of one stream entry written by the Lua script, and its
    provenance row (None if it delivered nothing new): one decode of the entry for both."""
    values = {_text(key): _text(value) for key, value in fields.items()}
    record = AccessRecord.from_json(values["r"])
    remaining = values.get("remaining", "")
    outcome = RecordOutcome(
        status=int(values["status"]),
        delivered=int(values["delivered"]),
        newly_charged=int(values["charged"]),
        refused=int(values["refused"]),
        remaining=int(remaining) if remaining != "" else None,
    )
    ids = provenance_ids_parse(values.get(STREAM_FIELD, ""))
    return access_log_entry(record, outcome), provenance_row(record, ids)


def _consumer_name() -> str:
    """A consumer name no other process uses: a dead one's entries are claimed, not reused."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _group_ensure(client, key: str) -> None:
    try:
        client.xgroup_create(key, DRAIN_GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _store(client, key: str, entries: list) -> int:
    """Write a batch of stream entries to the database, then (only after the commit)
    acknowledge and delete them. Returns how many entries were stored.

    A crash between the commit and the XACK leaves them pending: they are claimed and stored
    again later, and ``ignore_conflicts`` on the unique ``record_id`` keeps them single.
    """
    done: list = []
    rows: list[AccessLogEntry] = []
    provenance: list[DeliveryProvenance] = []
    for entry_id, fields in entries:
        if not fields:  # deleted from the stream while pending: nothing left to store
            done.append(entry_id)
            continue
        try:
            entry, delivery = stream_entry_parse(fields)
        except (KeyError, ValueError, TypeError):
            # Left pending (not lost): a later release that can read it will store it.
            logger.exception("access log: cannot parse stream entry %s", _text(entry_id))
            continue
        rows.append(entry)
        if delivery is not None:
            provenance.append(delivery)
        done.append(entry_id)
    if rows:
        with transaction.atomic():
            AccessLogEntry.objects.bulk_create(rows, ignore_conflicts=True)
            DeliveryProvenance.objects.bulk_create(provenance, ignore_conflicts=True)
    if done:
        pipe = client.pipeline(transaction=True)
        pipe.xack(key, DRAIN_GROUP, *done)
        pipe.xdel(key, *done)
        pipe.execute()
    return len(rows)


def access_log_drain(
    *,
    client=None,
    key_prefix: str | None = None,
    batch_size: int | None = None,
    max_seconds: float | None = None,
    claim_idle_seconds: float | None = None,
) -> int:
    """Move access-log records from the Redis streams into the database. Returns how many.

    For each stream (one per ``ACCESS_LOG_SHARDS``), first takes over entries a dead consumer
    left pending for ``claim_idle_seconds`` (XAUTOCLAIM), then reads new ones (XREADGROUP)
    until the stream is empty or ``max_seconds`` have passed (None: until empty); the time
    is shared by all streams. Safe to run in several workers at once. Without Redis
    configured (and no ``client`` given) there is nothing to drain.
    """
    if client is None:
        if not settings.REDIS_URL:
            return 0
        ledger = ledgers.redis_ledger()
        client, key_prefix = ledger.client, ledger.key_prefix
    if max_seconds is None:
        max_seconds = settings.ACCESS_LOG_DRAIN_MAX_SECONDS
    deadline = None if not max_seconds else time.monotonic() + max_seconds
    stored = 0
    keys = access_log_stream_keys(key_prefix)
    # Start at a random stream, so a run cut short by its time does not always starve the last.
    start = random.randrange(len(keys))  # noqa: S311 - fairness, not security
    for key in keys[start:] + keys[:start]:
        stored += _drain_stream(
            client,
            key,
            batch=batch_size or settings.ACCESS_LOG_DRAIN_BATCH,
            deadline=deadline,
            claim_idle_seconds=claim_idle_seconds,
        )
        if deadline and time.monotonic() > deadline:
            break
    return stored


def _drain_stream(
    client, key: str, *, batch: int, deadline: float | None, claim_idle_seconds: float | None
) -> int:
    """Drain one access-log stream (see ``access_log_drain``)."""
    idle_ms = int(
        1000
        * (
            settings.ACCESS_LOG_DRAIN_CLAIM_IDLE_SECONDS
            if claim_idle_seconds is None
            else claim_idle_seconds
        )
    )
    consumer = _consumer_name()
    _group_ensure(client, key)
    stored = 0
    try:
        start = "0-0"
        while True:  # entries a consumer that died (or stalled) left pending
            reply = client.xautoclaim(key, DRAIN_GROUP, consumer, idle_ms, start, count=batch)
            start, entries = reply[0], reply[1]
            stored += _store(client, key, entries)
            if _text(start) == "0-0" or (deadline and time.monotonic() > deadline):
                break
        while not deadline or time.monotonic() < deadline:
            reply = client.xreadgroup(DRAIN_GROUP, consumer, {key: ">"}, count=batch)
            entries = reply[0][1] if reply else []
            if not entries:
                break
            stored += _store(client, key, entries)
    finally:
        # Our consumer has nothing pending unless an entry could not be parsed; a consumer
        # with pending entries stays so that they can be claimed.
        try:
            pending = client.xpending_range(key, DRAIN_GROUP, "-", "+", 1, consumername=consumer)
            if not pending:
                client.xgroup_delconsumer(key, DRAIN_GROUP, consumer)
        except Exception:  # noqa: BLE001 - housekeeping only; never mask the drain's outcome
            logger.warning("access log: could not remove drain consumer %s", consumer)
    return stored

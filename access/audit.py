"""The access log and security events: building each metered request's record, writing it
durably and cheaply, and draining the Redis stream into the database.

One record per pass through the read gate (refusals and dry-run included, ``off`` excluded).
Where it is written depends on the ledger, so that the charge and its record can never part:

- database ledger: inserted in the ledger's own transaction (the same commit as the charge);
- Redis ledger: XADDed to ``<prefix>:accesslog`` by the same Lua script that charges (one
  round trip); ``access_log_drain`` moves the stream into the database with a consumer group,
  acknowledging entries only after the commit, idempotent by ``record_id``;
- ledger unreachable and the reader failed closed: inserted into the database directly.

A record describes the gate's verdict at gate time: ``status`` is 429 when the gate refuses
(the response is then a 429) and 200 otherwise, even if the view later fails for another
reason (e.g. a favourite on a post that vanished in between). Counts are post ids as the gate
charges them: a repost and its original are two reads.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

from .client_ip import client_ip, review_prefix
from .models import AccessLogEntry, DeliveryProvenance, SecurityEvent
from .provenance import STREAM_FIELD, provenance_ids_parse, provenance_row

logger = logging.getLogger(__name__)

PAGING_PARAMS = ("max_id", "min_id", "since_id", "limit")
PAGING_VALUE_MAX = 40
USER_AGENT_MAX = AccessLogEntry._meta.get_field("user_agent").max_length
PATH_MAX = AccessLogEntry._meta.get_field("path").max_length
ROUTE_MAX = AccessLogEntry._meta.get_field("route_name").max_length
STATUS_DELIVERED = 200
STATUS_REFUSED = 429
DRAIN_GROUP = "accesslog-drain"


@dataclass(frozen=True)
class AccessRecord:
    """The request side of one access-log record: everything known before the ledger runs.

    The ledger adds the outcome (``RecordOutcome``) in the same transaction or script.
    ``limit`` is the tier's budget (None: unlimited), used for ``remaining`` and, in dry-run,
    for what enforce would have refused. ``first_post_ids`` is how many ids the page's first
    post needs (2 for a repost: it and its original): fewer delivered means a 429.
    """

    record_id: str
    created_at: str  # ISO 8601, UTC
    principal: str
    user_id: int | None
    token_id: int | None
    tier: str
    client_ip: str | None
    ip_prefix: str
    user_agent: str
    route_name: str
    path: str
    paging: dict = field(default_factory=dict)
    mode: str = "enforce"
    limit: int | None = None
    first_post_ids: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> AccessRecord:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class RecordOutcome:
    """What the gate decided for one record (computed by the ledger, or by the Lua script)."""

    status: int
    delivered: int
    newly_charged: int
    refused: int
    remaining: int | None


def log_ip_prefix(address: str | None) -> str:
    """The network a record is grouped by for review: IPv4 /24, IPv6 /64 ("unknown" if none).

    Coarser than the anonymous reader's principal (IPv4 /32): it is for spotting many accounts
    or addresses behind one network, not for budgets.
    """
    return review_prefix(address) or "unknown"


def _request_token_id(request: HttpRequest) -> int | None:
    """The API token behind a Bearer request (DRF sets ``request.auth``), else None."""
    from accounts.models import ApiToken

    auth = getattr(request, "auth", None)
    return auth.pk if isinstance(auth, ApiToken) else None


def access_record_build(
    *,
    request: HttpRequest,
    principal: str,
    tier: str,
    mode: str,
    limit: int | None,
    now: datetime,
    first_post_ids: int = 1,
) -> AccessRecord:
    """The request side of the record for one pass through the gate."""
    user = getattr(request, "user", None)
    address = client_ip(request)
    match = getattr(request, "resolver_match", None)
    query = request.GET
    paging = {
        name: str(query.get(name))[:PAGING_VALUE_MAX] for name in PAGING_PARAMS if name in query
    }
    return AccessRecord(
        record_id=uuid.uuid4().hex,
        created_at=now.isoformat(),
        principal=principal,
        user_id=user.pk if user is not None and user.is_authenticated else None,
        token_id=_request_token_id(request),
        tier=tier,
        client_ip=address,
        ip_prefix=log_ip_prefix(address),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        route_name=(match.view_name if match else "")[:ROUTE_MAX],
        path=request.path[:PATH_MAX],
        paging=paging,
        mode=mode,
        limit=limit,
        first_post_ids=first_post_ids,
    )


def record_outcome(
    record: AccessRecord,
    *,
    requested: int,
    delivered: int,
    charged: int,
    used: int,
    would_deliver: int | None = None,
) -> RecordOutcome:
    """The outcome fields of a record; mirrored line for line by the ledger's Lua script.

    ``would_deliver`` (dry-run only): how many of the ids enforce mode would have delivered;
    the record's ``refused`` is then what enforce would have refused (nothing was).
    """
    status = STATUS_DELIVERED
    refused = requested - delivered
    if requested and delivered < record.first_post_ids:
        status, delivered, refused = STATUS_REFUSED, 0, requested
    if would_deliver is not None:
        refused = requested - would_deliver
    remaining = None if record.limit is None else max(record.limit - used, 0)
    return RecordOutcome(
        status=status,
        delivered=delivered,
        newly_charged=charged,
        refused=refused,
        remaining=remaining,
    )


def access_log_entry(record: AccessRecord, outcome: RecordOutcome) -> AccessLogEntry:
    """An unsaved ``AccessLogEntry`` from the two halves of a record."""
    return AccessLogEntry(
        record_id=record.record_id,
        created_at=parse_datetime(record.created_at),
        principal=record.principal,
        user_id=record.user_id,
        token_id=record.token_id,
        tier=record.tier,
        client_ip=record.client_ip,
        ip_prefix=record.ip_prefix,
        user_agent=record.user_agent,
        route_name=record.route_name,
        path=record.path,
        paging=record.paging,
        status=outcome.status,
        delivered=outcome.delivered,
        newly_charged=outcome.newly_charged,
        refused=outcome.refused,
        remaining=outcome.remaining,
        mode=record.mode,
    )


def access_log_write(
    *,
    record: AccessRecord,
    outcome: RecordOutcome,
    using: str = "default",
    post_ids: list[int] | None = None,
) -> AccessLogEntry:
    """Insert one record (call it inside the transaction that charged, when there is one),
    with its delivery provenance: ``post_ids``, the ids it delivered for the first time."""
    entry = access_log_entry(record, outcome)
    # Both rows or neither; no savepoint when the ledger's transaction already holds them.
    with transaction.atomic(using=using, savepoint=False):
        entry.save(using=using, force_insert=True)
        provenance = provenance_row(record, post_ids if outcome.delivered else [])
        if provenance is not None:
            provenance.save(using=using, force_insert=True)
    return entry


# --- The Redis stream -----------------------------------------------------------------------


def access_log_stream_key(key_prefix: str) -> str:
    """The stream the Redis ledger's script appends records to."""
    return f"{key_prefix}:accesslog"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def stream_entry_parse(fields: dict) -> AccessLogEntry:
    """An unsaved ``AccessLogEntry`` from one stream entry written by the Lua script."""
    values = {_text(key): _text(value) for key, value in fields.items()}
    remaining = values.get("remaining", "")
    outcome = RecordOutcome(
        status=int(values["status"]),
        delivered=int(values["delivered"]),
        newly_charged=int(values["charged"]),
        refused=int(values["refused"]),
        remaining=int(remaining) if remaining != "" else None,
    )
    return access_log_entry(AccessRecord.from_json(values["r"]), outcome)


def stream_entry_provenance(fields: dict) -> list[DeliveryProvenance]:
    """The unsaved provenance row of one stream entry (none if it delivered nothing new)."""
    values = {_text(key): _text(value) for key, value in fields.items()}
    ids = provenance_ids_parse(values.get(STREAM_FIELD, ""))
    row = provenance_row(AccessRecord.from_json(values["r"]), ids)
    return [row] if row is not None else []


def _consumer_name() -> str:
    """A consumer name no other process uses: a dead one's entries are claimed, not reused."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _group_ensure(client, key: str) -> None:
    import redis

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
            rows.append(stream_entry_parse(fields))
            provenance.extend(stream_entry_provenance(fields))
        except (KeyError, ValueError, TypeError):
            # Left pending (not lost): a later release that can read it will store it.
            logger.exception("access log: cannot parse stream entry %s", _text(entry_id))
            continue
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
    """Move access-log records from the Redis stream into the database. Returns how many.

    First takes over entries a dead consumer left pending for ``claim_idle_seconds``
    (XAUTOCLAIM), then reads new ones (XREADGROUP) until the stream is empty or
    ``max_seconds`` have passed (None: until empty). Safe to run in several workers at once.
    Without Redis configured (and no ``client`` given) there is nothing to drain.
    """
    if client is None:
        if not settings.REDIS_URL:
            return 0
        from .ledgers import redis_ledger

        ledger = redis_ledger()
        client, key_prefix = ledger.client, ledger.key_prefix
    key = access_log_stream_key(key_prefix)
    batch = batch_size or settings.ACCESS_LOG_DRAIN_BATCH
    if max_seconds is None:
        max_seconds = settings.ACCESS_LOG_DRAIN_MAX_SECONDS
    idle_ms = int(
        1000
        * (
            settings.ACCESS_LOG_DRAIN_CLAIM_IDLE_SECONDS
            if claim_idle_seconds is None
            else claim_idle_seconds
        )
    )
    deadline = None if not max_seconds else time.monotonic() + max_seconds
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


# --- Security events ------------------------------------------------------------------------


def security_event_record(
    *,
    kind: str,
    user=None,
    username: str = "",
    request: HttpRequest | None = None,
    details: dict | None = None,
) -> SecurityEvent:
    """Record an account event worth auditing (log-ins, tokens, tier and verification).

    Call it inside the transaction of the change it records, when there is one.
    """
    address = client_ip(request) if request is not None and request.META else None
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    if user is not None and not getattr(user, "is_authenticated", True):
        user = None
    if not username and user is not None:
        username = user.get_username()
    return SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or "")[:150],
        client_ip=address,
        user_agent=agent[:USER_AGENT_MAX],
        details=details or {},
    )


def login_succeeded_record(sender, request=None, user=None, **kwargs) -> None:
    """``user_logged_in`` receiver: record the log-in (who, from where, with what)."""
    security_event_record(kind=SecurityEvent.LOGIN_SUCCEEDED, user=user, request=request)


def login_failed_record(sender, credentials=None, request=None, **kwargs) -> None:
    """``user_login_failed`` receiver: record the attempt with the username as typed (the
    account it names, if any, so failures per account can be counted)."""
    from accounts.models import User

    username = str((credentials or {}).get("username", ""))[:150]
    target = User.objects.filter(username__iexact=username).first() if username else None
    security_event_record(
        kind=SecurityEvent.LOGIN_FAILED, user=target, username=username, request=request
    )

"""The access log's records: building each metered request's record and writing it durably
and cheaply (``access_log_drain`` moves the Redis stream into the database).

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
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache

import orjson
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

from accounts.models import ApiToken
from core.client_ip import client_ip, review_prefix

from .models import AccessLogEntry
from .provenance import provenance_row

logger = logging.getLogger(__name__)

# Kept on each record (``paging``): the cursors, and a search's query and offset, which the
# detectors read (deep paging, query enumeration).
PAGING_PARAMS = ("max_id", "min_id", "since_id", "limit", "q", "offset")
PAGING_VALUE_MAX = 40
USER_AGENT_MAX = AccessLogEntry._meta.get_field("user_agent").max_length
PATH_MAX = AccessLogEntry._meta.get_field("path").max_length
ROUTE_MAX = AccessLogEntry._meta.get_field("route_name").max_length
STATUS_DELIVERED = 200
STATUS_REFUSED = 429


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
    # Last, with a default: records already in the Redis stream before it existed still load.
    application_id: int | None = None

    def to_json(self) -> bytes:
        """The record as compact UTF-8 JSON (what the Redis stream holds). orjson encodes the
        dataclass itself: ``asdict`` deep-copied every field, a tenth of the gate's Python."""
        try:
            return orjson.dumps(self)
        except orjson.JSONEncodeError:  # e.g. a lone surrogate in a header: json escapes it
            return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> AccessRecord:
        return cls(**orjson.loads(raw))


@dataclass(frozen=True)
class RecordOutcome:
    """What the gate decided for one record (computed by the ledger, or by the Lua script)."""

    status: int
    delivered: int
    newly_charged: int
    refused: int
    remaining: int | None


@lru_cache(maxsize=4096)
def log_ip_prefix(address: str | None) -> str:
    """The network a record is grouped by for review: IPv4 /24, IPv6 /64 ("unknown" if none).

    Coarser than the anonymous reader's principal (IPv4 /32): it is for spotting many accounts
    or addresses behind one network, not for budgets. Remembered per address (parsing it was
    a fifth of building a record): the answer depends on the address alone.
    """
    return review_prefix(address) or "unknown"


def _request_token_id(request: HttpRequest) -> int | None:
    """The API token behind a Bearer request (DRF sets ``request.auth``), else None."""
    auth = getattr(request, "auth", None)
    return auth.pk if isinstance(auth, ApiToken) else None


def _request_application_id(request: HttpRequest) -> int | None:
    """The OAuth app whose token made a Bearer request, else None."""
    auth = getattr(request, "auth", None)
    return auth.application_id if isinstance(auth, ApiToken) else None


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
    # The Django request for what it holds itself: DRF's wrapper reaches it only after a
    # failed attribute look-up, once per field.
    django_request = getattr(request, "_request", request)
    address = client_ip(django_request)
    match = getattr(django_request, "resolver_match", None)
    query = django_request.GET
    paging = {
        name: str(query.get(name))[:PAGING_VALUE_MAX] for name in PAGING_PARAMS if name in query
    }
    return AccessRecord(
        record_id=uuid.uuid4().hex,
        created_at=now.isoformat(),
        principal=principal,
        user_id=user.pk if user is not None and user.is_authenticated else None,
        token_id=_request_token_id(request),
        application_id=_request_application_id(request),
        tier=tier,
        client_ip=address,
        ip_prefix=log_ip_prefix(address),
        user_agent=django_request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        route_name=(match.view_name if match else "")[:ROUTE_MAX],
        path=django_request.path[:PATH_MAX],
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
        application_id=record.application_id,
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


def access_log_shards() -> int:
    """How many access-log streams there are (``ACCESS_LOG_SHARDS``): 1 on one Redis, more
    on Redis Cluster, where each stream and the read ledgers that write to it share a slot."""
    return max(int(settings.ACCESS_LOG_SHARDS), 1)


def access_log_shard(principal: str) -> int:
    """Which stream a reader's records go to: user id (or a CRC of the IP principal) mod N.
    Stable, so a reader's ledger sets and their stream stay in one slot."""
    shards = access_log_shards()
    if shards == 1:
        return 0
    kind, _, rest = principal.partition(":")
    if kind == "user" and rest.isdigit():
        return int(rest) % shards
    return zlib.crc32(principal.encode()) % shards


def access_log_shard_tag(key_prefix: str, shard: int) -> str:
    """The key prefix of one shard: ``<prefix>:{al:<n>}`` (a Redis Cluster hash tag), or the
    plain prefix when there is one stream (the single-Redis layout, unchanged)."""
    if access_log_shards() == 1:
        return key_prefix
    return f"{key_prefix}:{{al:{shard}}}"


def access_log_stream_key(key_prefix: str, shard: int = 0) -> str:
    """The stream the Redis ledger's script appends a shard's records to."""
    return f"{access_log_shard_tag(key_prefix, shard)}:accesslog"


def access_log_stream_fields(
    record: AccessRecord, outcome: RecordOutcome
) -> dict[str, str | bytes]:
    """A record as a stream entry of no delivery, in the fields the ledger's script writes
    (``RECORD_XADD_LUA``) and the drain reads (``access_log_drain.stream_entry_parse``)."""
    return {
        "r": record.to_json(),
        "status": str(outcome.status),
        "delivered": str(outcome.delivered),
        "charged": str(outcome.newly_charged),
        "refused": str(outcome.refused),
        "remaining": "" if outcome.remaining is None else str(outcome.remaining),
        "p": "",  # nothing delivered: no provenance
    }


def access_log_stream_keys(key_prefix: str) -> list[str]:
    """Every access-log stream, for the drain."""
    return [access_log_stream_key(key_prefix, shard) for shard in range(access_log_shards())]

"""The two read ledgers behind one interface: which posts a reader has read on a UTC day.

``charge(principal=…, day=…, limit=…, post_ids=…)`` walks the ids in order — already read
today: deliver; new and ``used < limit``: deliver and count; otherwise stop — atomically for
that reader, so any number of concurrent calls from any number of processes never deliver
more than ``limit`` distinct posts. ``limit`` None means unlimited (still counted).

- ``DatabaseLedger``: the embedded default; SQLite or PostgreSQL, one transaction per call.
- ``RedisLedger``: used when ``REDIS_URL`` is set; one Lua script (one round trip) per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from .access_log import (
    AccessRecord,
    RecordOutcome,
    access_log_shard,
    access_log_shard_tag,
    access_log_stream_fields,
    access_log_stream_key,
    access_log_write,
    record_outcome,
)
from .models import ReadDay, ReadReceipt

REDIS_TTL_MARGIN_SECONDS = 3600


@dataclass(frozen=True)
class ChargeResult:
    """What one ``charge`` call did: the delivered prefix, the new total and what it added."""

    delivered_ids: list[int]
    used: int
    charged_ids: list[int]  # the subset of delivered_ids newly counted by this call

    @property
    def newly_charged(self) -> int:
        return len(self.charged_ids)


class LedgerUnavailable(Exception):
    """The ledger's backing service cannot be reached; the gate decides what to do."""


class DatabaseLedger:
    """Read ledger in the database: a ``ReadDay`` row per reader-day, a receipt per post.

    The day row is locked for the whole transaction (``select_for_update`` on PostgreSQL;
    SQLite's IMMEDIATE transactions take the write lock at BEGIN), so a reader's concurrent
    calls are serialised and the walk below never reads a stale ``used``.
    """

    name = "database"

    def __init__(self, using: str = "default"):
        self.using = using

    def charge(
        self,
        *,
        principal: str,
        day: date,
        limit: int | None,
        post_ids: list[int],
        record: AccessRecord | None = None,
    ) -> ChargeResult:
        """Charge ``post_ids``; with a ``record``, insert its access-log entry in the same
        transaction, so a charge and its record commit (or vanish) together."""
        if not post_ids:
            used = self.peek(principal=principal, day=day)
            if record is not None:
                outcome = record_outcome(record, requested=0, delivered=0, charged=0, used=used)
                access_log_write(record=record, outcome=outcome, using=self.using)
            return ChargeResult(delivered_ids=[], used=used, charged_ids=[])
        with transaction.atomic(using=self.using):
            row = self._locked_day(principal, day)
            already = self._already_read(principal, day, post_ids)
            used = row.used
            first_ids = record.first_post_ids if record is not None else 1
            delivered, charged = charge_walk(post_ids, already, used, limit, first_ids=first_ids)
            if charged:
                ReadReceipt.objects.using(self.using).bulk_create(
                    [ReadReceipt(principal=principal, day=day, post_id=pid) for pid in charged]
                )
                used += len(charged)
                ReadDay.objects.using(self.using).filter(pk=row.pk).update(used=used)
            if record is not None:
                charge_record_write(
                    record,
                    limit=limit,
                    post_ids=post_ids,
                    delivered=delivered,
                    charged=charged,
                    used=used,
                    using=self.using,
                )
        return ChargeResult(delivered_ids=delivered, used=used, charged_ids=charged)

    def _already_read(self, principal: str, day: date, post_ids: list[int]) -> set[int]:
        """Which of ``post_ids`` the reader has a receipt for that day: one index probe per id.

        On PostgreSQL a plain ``post_id IN (…)`` is planned, whenever the statistics do not
        know the reader yet (every new reader-day), as a scan of all the reader's receipts
        for the day filtered by id, so the cost grew with usage (2.4x at 10,000 reads,
        ``make bench``). A ``LATERAL … LIMIT 1`` per wanted id cannot be planned that way: it
        is always a nested loop of unique-index lookups, flat in usage.
        """
        connection = connections[self.using]
        if connection.vendor != "postgresql":
            return set(
                ReadReceipt.objects.using(self.using)
                .filter(principal=principal, day=day, post_id__in=post_ids)
                .values_list("post_id", flat=True)
            )
        table = connection.ops.quote_name(ReadReceipt._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT wanted.id FROM unnest(%s::bigint[]) AS wanted(id)
                CROSS JOIN LATERAL (
                    SELECT 1 FROM {table} AS receipt
                    WHERE receipt.principal = %s AND receipt.day = %s
                    AND receipt.post_id = wanted.id LIMIT 1
                ) AS found""",  # noqa: S608 - the table name is ours, the values are parameters
                [list(post_ids), principal, day],
            )
            return {row[0] for row in cursor.fetchall()}

    def _locked_day(self, principal: str, day: date) -> ReadDay:
        """The reader's day row, created if missing, locked until the transaction ends."""
        rows = ReadDay.objects.using(self.using).select_for_update()
        row = rows.filter(principal=principal, day=day).first()
        if row is None:
            # ON CONFLICT DO NOTHING: two first requests of the day may race to create it.
            ReadDay.objects.using(self.using).bulk_create(
                [ReadDay(principal=principal, day=day)], ignore_conflicts=True
            )
            row = rows.get(principal=principal, day=day)
        return row

    def peek(self, *, principal: str, day: date) -> int:
        """How many posts the reader has read that day, without charging or locking."""
        used = (
            ReadDay.objects.using(self.using)
            .filter(principal=principal, day=day)
            .values_list("used", flat=True)
            .first()
        )
        return used or 0


# The charge walk of one page, the rule of ``charge_walk`` below: already in the day set:
# deliver; new and ``used < limit`` (or limit -1, unlimited): add, count, deliver; else stop;
# and the first post goes out whole or not at all. Counts alongside what enforce mode would
# deliver against ``tier_limit`` (dry-run's record). Expects the script's locals: key (the
# day set), limit, tier_limit, first_ids, used (before the page), first_arg (ARGV index of
# the first id) and requested; leaves delivered, charged, would and the new used. The read
# ledger's script and the licence quota's (licensing/quota.py) both walk with it.
CHARGE_WALK_LUA = """
local delivered = {}
local charged = {}
local would_left = tier_limit - used
local would = 0
local would_stopped = false
for i = first_arg, #ARGV do
  local id = ARGV[i]
  if redis.call('SISMEMBER', key, id) == 1 then
    delivered[#delivered + 1] = id
    if not would_stopped then would = would + 1 end
  elseif limit < 0 or used < limit then
    redis.call('SADD', key, id)
    used = used + 1
    delivered[#delivered + 1] = id
    charged[#charged + 1] = id
    if not would_stopped then
      if tier_limit >= 0 and would_left <= 0 then
        would_stopped = true
      else
        would_left = would_left - 1
        would = would + 1
      end
    end
  else
    break
  end
end
if requested > 0 and #delivered < first_ids then
  -- The first post goes out whole or not at all: a refused page charges nothing.
  for _, id in ipairs(charged) do redis.call('SREM', key, id) end
  used = used - #charged
  delivered = {}
  charged = {}
end
"""

# The access-log entry of a charge, appended by the charging script itself (one round trip,
# all or nothing). Expects the script's locals: record ('' = none), limit (-1 = unlimited),
# tier_limit, first_ids, used, delivered, charged, would (what enforce would deliver, for
# dry-run), requested and stream (the stream's key). The read ledger's script and the licence
# quota's (licensing/quota.py) both end with it.
RECORD_XADD_LUA = """
if record ~= '' then
  local status = 200
  local shown = #delivered
  local refused = requested - #delivered
  local provenance = table.concat(charged, ',')
  if requested > 0 and #delivered < first_ids then
    status = 429
    shown = 0
    refused = requested
    provenance = ''
  end
  if limit < 0 and tier_limit >= 0 then
    refused = requested - would
  end
  local remaining = ''
  if tier_limit >= 0 then
    remaining = math.max(tier_limit - used, 0)
  end
  redis.call('XADD', stream, '*', 'r', record, 'status', status, 'delivered', shown,
    'charged', #charged, 'refused', refused, 'remaining', remaining, 'p', provenance)
end
"""

# KEYS[1]: the reader's day set; KEYS[2]: the access-log stream.
# ARGV: limit (-1 = unlimited), TTL in seconds, the access record as JSON ('' = none), the
# record's tier limit (-1 = unlimited; differs from ARGV[1] in dry-run, which charges
# unlimited), how many ids the first post needs, then the ids in order.
# The entry's 'p' field is the newly charged ids (delivery provenance, access/provenance.py).
# Returns {used, delivered ids, newly charged ids}. Redis runs a script atomically, so no
# other call for this reader can interleave between SCARD and the SADDs, and the charge and
# its access-log entry are written together or not at all. The outcome fields are computed
# exactly as access.access_log.record_outcome does.
_CHARGE_LUA = (
    """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local record = ARGV[3]
local tier_limit = tonumber(ARGV[4])
local first_ids = tonumber(ARGV[5])
local stream = KEYS[2]
local first_arg = 6
local requested = #ARGV - 5
local used = redis.call('SCARD', key)
"""
    + CHARGE_WALK_LUA
    + """
if #charged > 0 then
  redis.call('EXPIRE', key, ttl)
end
"""
    + RECORD_XADD_LUA
    + """return {used, delivered, charged}
"""
)


class RedisLedger:
    """Read ledger in Redis: one set of post ids per reader-day, expiring after the window.

    One Lua script per call (one round trip). Keys are ``<prefix>:reads:<principal>:<YYYYMMDD>``
    so test runs on a shared Redis keep to their own prefix. With ``ACCESS_LOG_SHARDS`` > 1
    (Redis Cluster) both keys the script touches — the reader's set and the access-log stream
    it appends to — carry the reader's shard tag, ``<prefix>:{al:<n>}:…``, so they are in one
    slot and the script stays one round trip (docs/architecture.md, "Redis keys").
    """

    name = "redis"

    def __init__(self, *, client=None, key_prefix: str | None = None):
        if client is None:
            from django_redis import get_redis_connection

            client = get_redis_connection("default")
        self.client = client
        self.key_prefix = key_prefix if key_prefix is not None else redis_key_prefix()
        # redis-py's Script sends EVALSHA and loads the script itself on NOSCRIPT.
        self._script = client.register_script(_CHARGE_LUA)

    def key(self, principal: str, day: date) -> str:
        tagged = access_log_shard_tag(self.key_prefix, access_log_shard(principal))
        return f"{tagged}:reads:{principal}:{day:%Y%m%d}"

    @property
    def stream_key(self) -> str:
        """Where the script appends access-log records for ``access_log_drain`` (the first
        shard's stream: the only one unless ``ACCESS_LOG_SHARDS`` > 1)."""
        return access_log_stream_key(self.key_prefix)

    def stream_key_for(self, principal: str) -> str:
        """The access-log stream this reader's records go to."""
        return access_log_stream_key(self.key_prefix, access_log_shard(principal))

    def charge(
        self,
        *,
        principal: str,
        day: date,
        limit: int | None,
        post_ids: list[int],
        record: AccessRecord | None = None,
    ) -> ChargeResult:
        """Charge ``post_ids``; with a ``record``, the same script XADDs it to the stream."""
        import redis

        # Expire the set a little past the end of its UTC day: nothing is kept longer.
        window_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        ttl = int((window_end - timezone.now()).total_seconds()) + REDIS_TTL_MARGIN_SECONDS
        ttl = max(ttl, REDIS_TTL_MARGIN_SECONDS)
        tier_limit = -1 if record is None or record.limit is None else int(record.limit)
        args = [
            -1 if limit is None else int(limit),
            ttl,
            record.to_json() if record is not None else "",
            tier_limit,
            record.first_post_ids if record is not None else 1,
            *(int(pid) for pid in post_ids),
        ]
        keys = [self.key(principal, day), self.stream_key_for(principal)]
        try:
            used, delivered, charged = self._script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise LedgerUnavailable(str(exc)) from exc
        return ChargeResult(
            delivered_ids=[int(pid) for pid in delivered],
            used=int(used),
            charged_ids=[int(pid) for pid in charged],
        )

    def record_append(self, *, record: AccessRecord, outcome: RecordOutcome) -> None:
        """Append the record of a request that charged nothing (a request-rate 429) to the
        reader's access-log stream, for the drain: the charging script's path without a
        charge. Raises ``LedgerUnavailable`` when Redis cannot be reached."""
        import redis

        try:
            self.client.xadd(
                self.stream_key_for(record.principal), access_log_stream_fields(record, outcome)
            )
        except redis.RedisError as exc:
            raise LedgerUnavailable(str(exc)) from exc

    def peek(self, *, principal: str, day: date) -> int:
        import redis

        try:
            return int(self.client.scard(self.key(principal, day)))
        except redis.RedisError as exc:
            raise LedgerUnavailable(str(exc)) from exc


def charge_walk(
    post_ids: list[int], already: set[int], used: int, limit: int | None, *, first_ids: int = 1
) -> tuple[list[int], list[int]]:
    """The gate's rule on one page: deliver read ones, charge new ones while budget lasts.

    The licence quota ledger (``licensing/quota.py``) walks a page by the same rule.

    The first post goes out whole or not at all (``first_ids``: 2 for a repost and its
    original): a refused page charges nothing.
    """
    delivered: list[int] = []
    charged: list[int] = []
    for pid in post_ids:
        if pid in already:
            delivered.append(pid)
        elif limit is None or used + len(charged) < limit:
            delivered.append(pid)
            charged.append(pid)
            already.add(pid)
        else:
            break
    if post_ids and len(delivered) < first_ids:
        return [], []
    return delivered, charged


def would_deliver_count(
    post_ids: list[int], charged_ids: list[int], used: int, limit: int | None
) -> int:
    """How many of ``post_ids`` enforce mode would have delivered, given that an unlimited
    (dry-run) charge newly counted ``charged_ids`` and left the reader at ``used``."""
    if limit is None:
        return len(post_ids)
    fresh = set(charged_ids)
    left = limit - (used - len(fresh))
    count = 0
    for pid in post_ids:
        if pid in fresh:
            if left <= 0:
                break
            left -= 1
        count += 1
    return count


def charge_record_write(
    record: AccessRecord,
    *,
    limit: int | None,
    post_ids: list[int],
    delivered: list[int],
    charged: list[int],
    used: int,
    using: str = "default",
) -> None:
    """The access-log record of a database charge, in the charge's transaction, with its
    provenance (the posts newly charged). For a dry-run record (charged unlimited, tier
    limited) it says what enforce would have delivered. The read ledger and the licence
    quota ledger (``licensing/quota.py``) both write it."""
    would = None
    if limit is None and record.limit is not None:
        would = would_deliver_count(post_ids, charged, used, record.limit)
    outcome = record_outcome(
        record,
        requested=len(post_ids),
        delivered=len(delivered),
        charged=len(charged),
        used=used,
        would_deliver=would,
    )
    access_log_write(record=record, outcome=outcome, using=using, post_ids=list(charged))


def redis_key_prefix() -> str:
    """The prefix of the ledgers' Redis keys: ``ACCESS_REDIS_KEY_PREFIX``, else the cache's."""
    if settings.ACCESS_REDIS_KEY_PREFIX:
        return settings.ACCESS_REDIS_KEY_PREFIX
    return settings.CACHES.get("default", {}).get("KEY_PREFIX") or "microblog"


@cache
def database_ledger() -> DatabaseLedger:
    return DatabaseLedger()


@cache
def redis_ledger() -> RedisLedger:
    """The Redis ledger on the configured Redis (one per process)."""
    return RedisLedger()


_redis_ledger = redis_ledger  # the name bench/ uses


def ledger_uses_redis() -> bool:
    """Whether the configured ledgers are Redis: ``ACCESS_LEDGER`` "redis", or "auto" with
    ``REDIS_URL`` set (else the database). The licence quota ledger follows the same choice."""
    choice = settings.ACCESS_LEDGER
    return choice == "redis" or (choice == "auto" and bool(settings.REDIS_URL))


def ledger_get() -> DatabaseLedger | RedisLedger:
    """The configured ledger: ``ACCESS_LEDGER`` "redis"/"database", or "auto" (Redis when
    ``REDIS_URL`` is set)."""
    return redis_ledger() if ledger_uses_redis() else database_ledger()

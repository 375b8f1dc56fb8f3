"""The licence quota ledgers: a post is charged once per UTC day, against a monthly quota.

``charge(licence_id=…, day=…, quota=…, post_ids=…, record=…)`` walks the ids in order —
already charged to this licence today: deliver free; new today and ``used < quota`` for the
month: deliver and count; otherwise stop — atomically per licence, so concurrent calls from
any number of processes never deliver more than the quota. The same shape as the read
ledgers (``access/ledgers.py``), with the count kept per month and the dedup per day; like
them it writes the request's access-log record (``record``) with the charge, in the same
transaction or script, and ``quota`` None charges unlimited (dry-run). The read gate's
``metered_charge`` calls it (``licensing.services.licensed_deliver``).

- ``DatabaseQuotaLedger``: a locked ``LicenceMonth`` row, ``LicenceCharge`` rows per day.
- ``RedisQuotaLedger``: one Lua script; a set per licence-day and a counter per licence-month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from django.db import transaction
from django.db.models import F

from access.access_log import (
    AccessRecord,
    access_log_shard_tag,
    access_log_shards,
    access_log_stream_key,
)
from access.gate import window_day
from access.ledgers import (
    CHARGE_WALK_LUA,
    RECORD_XADD_LUA,
    REDIS_TTL_MARGIN_SECONDS,
    ChargeResult,
    LedgerUnavailable,
    charge_record_write,
    charge_walk,
    ledger_uses_redis,
    redis_key_prefix,
)

from .models import LicenceCharge, LicenceMonth, LicenceUsageDay


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_reset_at(day: date) -> datetime:
    """When the quota resets: 00:00 UTC on the 1st of the next month."""
    first = month_start(day)
    following = (first + timedelta(days=32)).replace(day=1)
    return datetime.combine(following, time.min, tzinfo=UTC)


def month_window_seconds(day: date) -> int:
    """How long the month of ``day`` is, in seconds (the quota's window)."""
    start = datetime.combine(month_start(day), time.min, tzinfo=UTC)
    return int((month_reset_at(day) - start).total_seconds())


def _usage_add(licence_id: int, day: date, count: int) -> None:
    """Add ``count`` to the day's usage row (for the chart)."""
    if not count:
        return
    LicenceUsageDay.objects.bulk_create(
        [LicenceUsageDay(licence_id=licence_id, day=day)], ignore_conflicts=True
    )
    LicenceUsageDay.objects.filter(licence_id=licence_id, day=day).update(posts=F("posts") + count)


class DatabaseQuotaLedger:
    """Quota ledger in the database (the embedded default; SQLite or PostgreSQL)."""

    name = "database"

    def charge(
        self,
        *,
        licence_id: int,
        day: date,
        quota: int | None,
        post_ids: list[int],
        record: AccessRecord | None = None,
    ) -> ChargeResult:
        month = month_start(day)
        first_ids = record.first_post_ids if record is not None else 1
        with transaction.atomic():
            row = self._locked_month(licence_id, month)
            already = set(
                LicenceCharge.objects.filter(
                    licence_id=licence_id, day=day, post_id__in=post_ids
                ).values_list("post_id", flat=True)
            )
            delivered, charged = charge_walk(
                post_ids, already, row.used, quota, first_ids=first_ids
            )
            used = row.used + len(charged)
            if charged:
                LicenceCharge.objects.bulk_create(
                    [LicenceCharge(licence_id=licence_id, day=day, post_id=p) for p in charged]
                )
                LicenceMonth.objects.filter(pk=row.pk).update(used=used)
                _usage_add(licence_id, day, len(charged))
            if record is not None:
                charge_record_write(
                    record,
                    limit=quota,
                    post_ids=post_ids,
                    delivered=delivered,
                    charged=charged,
                    used=used,
                )
        return ChargeResult(delivered_ids=delivered, used=used, charged_ids=charged)

    def _locked_month(self, licence_id: int, month: date) -> LicenceMonth:
        rows = LicenceMonth.objects.select_for_update()
        row = rows.filter(licence_id=licence_id, month=month).first()
        if row is None:
            LicenceMonth.objects.bulk_create(
                [LicenceMonth(licence_id=licence_id, month=month)], ignore_conflicts=True
            )
            row = rows.get(licence_id=licence_id, month=month)
        return row

    def peek(self, *, licence_id: int, day: date) -> int:
        used = (
            LicenceMonth.objects.filter(licence_id=licence_id, month=month_start(day))
            .values_list("used", flat=True)
            .first()
        )
        return used or 0


def quota_charges_purge(*, today: date | None = None) -> int:
    """Delete the database ledger's ``LicenceCharge`` rows of months before ``today``'s (by
    default the current UTC day's).

    The month's total is the ``LicenceMonth`` counter, and a charge reads only its own day's
    rows (the once-per-day dedup), so no past day's row is ever read again; the current
    month's are kept all the same (what the month was charged for). Returns how many went.
    Idempotent. (The Redis ledger's day sets expire by themselves.)
    """
    cutoff = month_start(today or window_day())
    deleted, _ = LicenceCharge.objects.filter(day__lt=cutoff).delete()
    return deleted


# KEYS[1]: the licence-day set of charged ids; KEYS[2]: the licence-month counter; KEYS[3]:
# the access-log stream. ARGV: quota (-1 = unlimited: dry-run), day TTL, month TTL, the access
# record as JSON ('' = none), the record's quota (-1 = none), how many ids the first post
# needs, then the ids in order. Returns {used, delivered, charged}. The read ledger's walk
# (its CHARGE_WALK_LUA), with the count kept per month; Redis runs the script atomically, so
# nothing interleaves between the GET and the INCRBY, and the charge and its access-log entry
# (the read ledger's RECORD_XADD_LUA) are written together or not at all.
_QUOTA_LUA = (
    """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local record = ARGV[4]
local tier_limit = tonumber(ARGV[5])
local first_ids = tonumber(ARGV[6])
local stream = KEYS[3]
local first_arg = 7
local requested = #ARGV - 6
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
"""
    + CHARGE_WALK_LUA
    + """
if #charged > 0 then
  redis.call('INCRBY', KEYS[2], #charged)
  redis.call('EXPIRE', key, tonumber(ARGV[2]))
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
end
"""
    + RECORD_XADD_LUA
    + """return {used, delivered, charged}
"""
)


class RedisQuotaLedger:
    """Quota ledger in Redis: one script (one round trip) per charge. The usage-by-day rows
    for the chart are added in the database afterwards (they are a report, not the limit)."""

    name = "redis"

    def __init__(self, *, client=None, key_prefix: str | None = None, usage_rows: bool = True):
        if client is None:
            from django_redis import get_redis_connection

            client = get_redis_connection("default")
        self.client = client
        self.key_prefix = key_prefix if key_prefix is not None else redis_key_prefix()
        self.usage_rows = usage_rows  # off only in tests that measure the script alone
        self._script = client.register_script(_QUOTA_LUA)

    def shard(self, licence_id: int) -> int:
        """The access-log shard a licence's records go to (licence id mod N)."""
        return licence_id % access_log_shards()

    def keys(self, licence_id: int, day: date) -> list[str]:
        # The script's keys (day set, month counter and the stream its record goes to) share
        # the shard's hash tag, so on Redis Cluster they are in one slot.
        tagged = access_log_shard_tag(self.key_prefix, self.shard(licence_id))
        base = f"{tagged}:licence:{licence_id}"
        return [f"{base}:day:{day:%Y%m%d}", f"{base}:month:{day:%Y%m}"]

    def charge(
        self,
        *,
        licence_id: int,
        day: date,
        quota: int | None,
        post_ids: list[int],
        record: AccessRecord | None = None,
    ) -> ChargeResult:
        import redis

        now = datetime.now(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        day_ttl = max(int((day_end - now).total_seconds()), 0) + REDIS_TTL_MARGIN_SECONDS
        month_ttl = (
            max(int((month_reset_at(day) - now).total_seconds()), 0) + REDIS_TTL_MARGIN_SECONDS
        )
        args = [
            -1 if quota is None else int(quota),
            day_ttl,
            month_ttl,
            record.to_json() if record is not None else "",
            -1 if record is None or record.limit is None else int(record.limit),
            record.first_post_ids if record is not None else 1,
            *(int(pid) for pid in post_ids),
        ]
        keys = [
            *self.keys(licence_id, day),
            access_log_stream_key(self.key_prefix, self.shard(licence_id)),
        ]
        try:
            used, delivered, charged = self._script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise LedgerUnavailable(str(exc)) from exc
        charged = [int(pid) for pid in charged]
        if self.usage_rows:
            _usage_add(licence_id, day, len(charged))
        return ChargeResult(
            delivered_ids=[int(pid) for pid in delivered], used=int(used), charged_ids=charged
        )

    def peek(self, *, licence_id: int, day: date) -> int:
        import redis

        try:
            return int(self.client.get(self.keys(licence_id, day)[1]) or 0)
        except redis.RedisError as exc:
            raise LedgerUnavailable(str(exc)) from exc


@cache
def _database() -> DatabaseQuotaLedger:
    return DatabaseQuotaLedger()


@cache
def _redis() -> RedisQuotaLedger:
    return RedisQuotaLedger()


def quota_ledger_get() -> DatabaseQuotaLedger | RedisQuotaLedger:
    """The same choice as the read ledger: ``ACCESS_LEDGER`` (Redis when configured)."""
    return _redis() if ledger_uses_redis() else _database()

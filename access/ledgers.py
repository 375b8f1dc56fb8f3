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
from django.db import transaction
from django.utils import timezone

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
        self, *, principal: str, day: date, limit: int | None, post_ids: list[int]
    ) -> ChargeResult:
        if not post_ids:
            used = self.peek(principal=principal, day=day)
            return ChargeResult(delivered_ids=[], used=used, charged_ids=[])
        with transaction.atomic(using=self.using):
            row = self._locked_day(principal, day)
            already = set(
                ReadReceipt.objects.using(self.using)
                .filter(principal=principal, day=day, post_id__in=post_ids)
                .values_list("post_id", flat=True)
            )
            used = row.used
            delivered, charged = _walk(post_ids, already, used, limit)
            if charged:
                ReadReceipt.objects.using(self.using).bulk_create(
                    [ReadReceipt(principal=principal, day=day, post_id=pid) for pid in charged]
                )
                used += len(charged)
                ReadDay.objects.using(self.using).filter(pk=row.pk).update(used=used)
        return ChargeResult(delivered_ids=delivered, used=used, charged_ids=charged)

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


# KEYS[1]: the reader's day set. ARGV: limit (-1 = unlimited), TTL in seconds, ids in order.
# Returns {used, delivered ids, newly charged ids}. Redis runs a script atomically, so no
# other call for this reader can interleave between SCARD and the SADDs.
_CHARGE_LUA = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local used = redis.call('SCARD', key)
local delivered = {}
local charged = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('SISMEMBER', key, id) == 1 then
    delivered[#delivered + 1] = id
  elseif limit < 0 or used < limit then
    redis.call('SADD', key, id)
    used = used + 1
    delivered[#delivered + 1] = id
    charged[#charged + 1] = id
  else
    break
  end
end
if #charged > 0 then
  redis.call('EXPIRE', key, ttl)
end
return {used, delivered, charged}
"""


class RedisLedger:
    """Read ledger in Redis: one set of post ids per reader-day, expiring after the window.

    One Lua script per call (one round trip). Keys are ``<prefix>:reads:<principal>:<YYYYMMDD>``
    so test runs on a shared Redis keep to their own prefix.
    """

    name = "redis"

    def __init__(self, *, client=None, key_prefix: str | None = None):
        if client is None:
            from django_redis import get_redis_connection

            client = get_redis_connection("default")
        self.client = client
        self.key_prefix = key_prefix if key_prefix is not None else _default_key_prefix()
        # redis-py's Script sends EVALSHA and loads the script itself on NOSCRIPT.
        self._script = client.register_script(_CHARGE_LUA)

    def key(self, principal: str, day: date) -> str:
        return f"{self.key_prefix}:reads:{principal}:{day:%Y%m%d}"

    def charge(
        self, *, principal: str, day: date, limit: int | None, post_ids: list[int]
    ) -> ChargeResult:
        import redis

        # Expire the set a little past the end of its UTC day: nothing is kept longer.
        window_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        ttl = int((window_end - timezone.now()).total_seconds()) + REDIS_TTL_MARGIN_SECONDS
        ttl = max(ttl, REDIS_TTL_MARGIN_SECONDS)
        args = [-1 if limit is None else int(limit), ttl, *(int(pid) for pid in post_ids)]
        try:
            used, delivered, charged = self._script(keys=[self.key(principal, day)], args=args)
        except redis.RedisError as exc:
            raise LedgerUnavailable(str(exc)) from exc
        return ChargeResult(
            delivered_ids=[int(pid) for pid in delivered],
            used=int(used),
            charged_ids=[int(pid) for pid in charged],
        )

    def peek(self, *, principal: str, day: date) -> int:
        import redis

        try:
            return int(self.client.scard(self.key(principal, day)))
        except redis.RedisError as exc:
            raise LedgerUnavailable(str(exc)) from exc


def _walk(
    post_ids: list[int], already: set[int], used: int, limit: int | None
) -> tuple[list[int], list[int]]:
    """The gate's rule on one page: deliver read ones, charge new ones while budget lasts."""
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
    return delivered, charged


def _default_key_prefix() -> str:
    if settings.ACCESS_REDIS_KEY_PREFIX:
        return settings.ACCESS_REDIS_KEY_PREFIX
    return settings.CACHES.get("default", {}).get("KEY_PREFIX") or "microblog"


@cache
def database_ledger() -> DatabaseLedger:
    return DatabaseLedger()


@cache
def _redis_ledger() -> RedisLedger:
    return RedisLedger()


def ledger_get() -> DatabaseLedger | RedisLedger:
    """The configured ledger: ``ACCESS_LEDGER`` "redis"/"database", or "auto" (Redis when
    ``REDIS_URL`` is set)."""
    choice = settings.ACCESS_LEDGER
    if choice == "redis" or (choice == "auto" and settings.REDIS_URL):
        return _redis_ledger()
    return database_ledger()

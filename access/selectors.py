"""Reads for access controls: a reader's read-budget state, without charging anything."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts.selectors import effective_tier

from .gate import MODE_OFF, reader_principal, window_day, window_reset_at
from .ledgers import DatabaseLedger, LedgerUnavailable, database_ledger, ledger_get


@dataclass(frozen=True)
class ReadMeter:
    """Where a reader stands today, for the meter: limit None means unlimited; used None
    means the ledger could not be read just now."""

    limit: int | None
    used: int | None
    reset_at: datetime
    tier: str
    mode: str

    @property
    def unlimited(self) -> bool:
        return self.limit is None

    @property
    def remaining(self) -> int | None:
        if self.limit is None or self.used is None:
            return None
        return max(self.limit - self.used, 0)

    @property
    def exhausted(self) -> bool:
        return self.remaining == 0


def read_meter_get(*, request: HttpRequest) -> ReadMeter:
    """The reader's state now: from this request's grant if the gate ran, else a cheap read of
    the ledger (one query or one SCARD). Never charges."""
    grant = getattr(request, "read_grant", None)
    if grant is not None:
        return ReadMeter(grant.limit, grant.used, grant.reset_at, grant.tier, grant.mode)
    now = timezone.now()
    tier = effective_tier(getattr(request, "user", None))
    mode = settings.ACCESS_ENFORCEMENT
    used: int | None = 0
    if mode != MODE_OFF:
        principal, day = reader_principal(request), window_day(now)
        ledger = ledger_get()
        try:
            used = ledger.peek(principal=principal, day=day)
        except LedgerUnavailable:
            fallback = tier.slug not in settings.ACCESS_REDIS_DOWN_FAIL_CLOSED_TIERS
            if fallback and not isinstance(ledger, DatabaseLedger):
                used = database_ledger().peek(principal=principal, day=day)
            else:
                used = None
    return ReadMeter(tier.daily_read_budget, used, window_reset_at(now), tier.slug, mode)

"""The read gate: the one place where posts delivered to a reader are charged to their budget.

Every code path that shows posts to a reader — web timelines, profiles, post pages and every
API endpoint that returns statuses — calls ``posts_deliver`` before rendering or serializing.
It returns the posts that may be delivered (a prefix of the page: a partial page is cut at the
first post that would need budget that is not there) and the reader's ``ReadGrant``, which the
response layer turns into ``RateLimit``/``X-RateLimit-*`` headers. When nothing may be
delivered it raises ``ReadBudgetExhausted``, which the web and API layers turn into a 429.

A read is one distinct post per reader per UTC day: re-reads are free. The reader is the
logged-in user, or for logged-out readers their client IP prefix (IPv4 /32, IPv6 /64). The
budget is the reader's tier's ``daily_read_budget`` (``effective_tier``), read on every call,
so a tier change applies to the next request while the day's count carries over.

Every pass (except in ``off`` mode) also writes one access-log record, in the same database
transaction or the same Redis script as the charge (``access/access_log.py``). That machinery
— the enforcement mode, the record, dry-run, failing closed — is ``metered_charge``, which the
licensed lane's monthly quota (licensing/) charges through too, on its own ledgers.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, TypeVar

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts.selectors import effective_tier
from core.client_ip import reader_principal

from .access_log import AccessRecord, access_log_write, access_record_build, record_outcome
from .content_usage import content_usage_state
from .delivered import delivered_ids_add, gated_post_ids
from .ledgers import (
    ChargeResult,
    DatabaseLedger,
    LedgerUnavailable,
    database_ledger,
    ledger_get,
    would_deliver_count,
)

logger = logging.getLogger(__name__)

MODE_ENFORCE = "enforce"
MODE_DRY_RUN = "dry-run"
MODE_OFF = "off"


@dataclass(frozen=True)
class ReadGrant:
    """What the gate decided for one request, and where the reader stands afterwards."""

    delivered_ids: list[int]
    refused_count: int
    newly_charged: int
    limit: int | None  # None: unlimited
    used: int
    reset_at: datetime
    tier: str
    mode: str = MODE_ENFORCE
    principal: str = ""
    # True when the ledger could not be reached and this reader's tier fails closed.
    ledger_unavailable: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def refused(self) -> bool:
        """True when the page asked for posts and none could be delivered."""
        return self.refused_count > 0 and not self.delivered_ids


class ReadBudgetExhausted(Exception):
    """Raised when a reader asks for posts they have no budget left for."""

    def __init__(self, grant: ReadGrant):
        super().__init__("Daily read budget exhausted")
        self.grant = grant


def window_reset_at(now: datetime | None = None) -> datetime:
    """The end of the current read window: the next 00:00 UTC."""
    now = now or timezone.now()
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)


def window_day(now: datetime | None = None) -> date:
    """The UTC day the reads of ``now`` count against."""
    return (now or timezone.now()).astimezone(UTC).date()


class Deliverable(Protocol):
    """What the gate needs of a post: its id and author, and for a repost its original (id and
    author). The gate charges ids, so it needs no ``Post`` (feeds/ sits above access/)."""

    pk: int
    author_id: int
    repost_of_id: int | None
    repost_of: "Deliverable | None"


PostT = TypeVar("PostT", bound=Deliverable)


def delivered_post_ids(
    posts: Sequence[Deliverable], *, free_author_id: int | None = None
) -> list[int]:
    """The ids a page delivers, in order: each post, and a repost's original right after it.

    Posts by ``free_author_id`` (the reader, in a write's answer) are left out: not charged.
    """
    return [pid for post in posts for pid in gated_post_ids(post, free_author_id=free_author_id)]


def read_gate(*, request: HttpRequest, post_ids: list[int], first_post_ids: int = 1) -> ReadGrant:
    """Charge ``post_ids`` (in order) to the reader of ``request`` and say which may go out.

    Writes the pass's access-log record with the charge. ``first_post_ids``: how many ids the
    page's first post needs (2 for a repost); fewer delivered makes the response a 429.
    """
    now = timezone.now()
    tier = effective_tier(getattr(request, "user", None))
    principal = reader_principal(request)
    day = window_day(now)

    def charge(*, ids: list[int], limit: int | None, record: AccessRecord) -> ChargeResult:
        return _ledger_charge(
            principal=principal, day=day, limit=limit, ids=ids, tier_slug=tier.slug, record=record
        )

    return metered_charge(
        request=request,
        principal=principal,
        tier=tier.slug,
        limit=tier.daily_read_budget,
        post_ids=post_ids,
        charge=charge,
        now=now,
        reset_at=window_reset_at(now),
        first_post_ids=first_post_ids,
    )


class MeteredCharge(Protocol):
    """A ledger's charge, as ``metered_charge`` calls it: ``limit`` None charges unlimited
    (still counted); the ledger writes ``record`` with the charge, in the same transaction or
    script. Raises ``LedgerUnavailable`` when it cannot be reached."""

    def __call__(
        self, *, ids: list[int], limit: int | None, record: AccessRecord
    ) -> ChargeResult: ...


def metered_charge(
    *,
    request: HttpRequest,
    principal: str,
    tier: str,
    limit: int | None,
    post_ids: list[int],
    charge: MeteredCharge,
    now: datetime,
    reset_at: datetime,
    first_post_ids: int = 1,
) -> ReadGrant:
    """The gate's machinery for any metered lane: honour ``ACCESS_ENFORCEMENT``, build the
    access-log record and have ``charge`` write it with the charge, work out what dry-run
    would have refused, and fail closed (the record written on its own) when the ledger is
    unreachable. The read budget (``read_gate``) and the licence quota (licensing/) both
    charge through here, so both are recorded and enforced the same way.
    """
    mode = settings.ACCESS_ENFORCEMENT
    ids = list(dict.fromkeys(int(pid) for pid in post_ids))  # a page's duplicates count once
    grant = {"limit": limit, "reset_at": reset_at, "tier": tier, "mode": mode}
    if mode == MODE_OFF:
        return ReadGrant(delivered_ids=ids, refused_count=0, newly_charged=0, used=0, **grant)

    grant["principal"] = principal
    record = access_record_build(
        request=request,
        principal=principal,
        tier=tier,
        mode=mode,
        limit=limit,
        now=now,
        first_post_ids=first_post_ids,
    )
    _one_record_per_response(request)
    # Dry-run charges everything (as an unlimited reader) and works out what enforce would do.
    charge_limit = None if mode == MODE_DRY_RUN else limit
    try:
        result = charge(ids=ids, limit=charge_limit, record=record)
    except LedgerUnavailable as exc:
        logger.warning("ledger unavailable, failing closed for %s: %s", principal, exc)
        delivered = ids if mode == MODE_DRY_RUN else []
        # No ledger took the record: write it to the database on its own.
        outcome = record_outcome(
            record, requested=len(ids), delivered=len(delivered), charged=0, used=limit or 0
        )
        access_log_write(record=record, outcome=outcome, post_ids=delivered)
        return ReadGrant(
            delivered_ids=delivered,
            refused_count=len(ids) - len(delivered),
            newly_charged=0,
            used=limit or 0,
            ledger_unavailable=True,
            **grant,
        )

    if mode == MODE_DRY_RUN:
        would_refuse = len(ids) - _would_deliver(ids, result, limit)
        if would_refuse:
            logger.warning(
                "dry-run: would refuse %d of %d posts for %s (tier %s, %d/%s used)",
                would_refuse,
                len(ids),
                principal,
                tier,
                result.used,
                limit,
            )
        grant["extra"] = {"would_refuse": would_refuse}
    return ReadGrant(
        delivered_ids=result.delivered_ids,
        refused_count=len(ids) - len(result.delivered_ids),
        newly_charged=result.newly_charged,
        used=result.used,
        **grant,
    )


def _one_record_per_response(request: HttpRequest) -> None:
    """Each pass is one record; every view passes once per response. Say so if one does not."""
    passes = getattr(request, "_read_gate_passes", 0) + 1
    request._read_gate_passes = passes
    if passes > 1:
        logger.warning(
            "read gate passed %d times for one response to %s: one access-log record each",
            passes,
            request.path,
        )


def _ledger_charge(
    *,
    principal: str,
    day: date,
    limit: int | None,
    ids: list[int],
    tier_slug: str,
    record: AccessRecord | None = None,
) -> ChargeResult:
    """Charge on the configured ledger; if Redis is down, fall back or fail closed by tier.

    Falling back to the database ledger keeps reads bounded (by the budget, counted afresh
    there); tiers in ``ACCESS_REDIS_DOWN_FAIL_CLOSED_TIERS`` are refused instead.
    """
    ledger = ledger_get()
    try:
        return ledger.charge(principal=principal, day=day, limit=limit, post_ids=ids, record=record)
    except LedgerUnavailable:
        if isinstance(ledger, DatabaseLedger) or tier_slug in (
            settings.ACCESS_REDIS_DOWN_FAIL_CLOSED_TIERS
        ):
            raise
        logger.warning("read ledger %s unavailable, falling back to the database", ledger.name)
        return database_ledger().charge(
            principal=principal, day=day, limit=limit, post_ids=ids, record=record
        )


def _would_deliver(ids: list[int], result: ChargeResult, limit: int | None) -> int:
    """How many of ``ids`` enforce mode would have delivered, given an unlimited charge."""
    return would_deliver_count(ids, result.charged_ids, result.used, limit)


def posts_deliver(
    *, request: HttpRequest, posts: Sequence[PostT], charge_own: bool = True
) -> list[PostT]:
    """Pass a page of posts through the gate; return the prefix that may be delivered.

    The grant is kept on ``request.read_grant`` for the response headers, and the delivered
    ids on the request for ``access.delivered.post_delivered_check``. Raises
    ``ReadBudgetExhausted`` when the page had posts and none may be delivered.
    ``charge_own=False`` (a write's answer): the reader's own posts are free; the pass is
    still made, and logged, even when nothing is left to charge.
    """
    user = getattr(request, "user", None)
    reader_id = user.pk if user is not None and user.is_authenticated else None
    free_author_id = None if charge_own else reader_id
    # The ids each post takes from the gate, worked out once for the charge and the cut.
    per_post = [gated_post_ids(post, free_author_id=free_author_id) for post in posts]
    ids = [pid for post_ids in per_post for pid in post_ids]
    # A repost needs its original too: the page is refused if its first post cannot go out.
    first_post_ids = len(per_post[0]) if per_post else 0
    grant = read_gate(request=request, post_ids=ids, first_post_ids=max(first_post_ids, 1))
    # On the Django request itself (DRF's wrapper proxies reads to it), where the headers
    # middleware and the access log look for it.
    target = getattr(request, "_request", request)
    target.read_grant = grant
    content_usage_state(request=request)  # until posts go out: the site default
    if grant.refused:
        raise ReadBudgetExhausted(grant)
    allowed = set(grant.delivered_ids)
    delivered: list[PostT] = []
    for post, post_ids in zip(posts, per_post, strict=True):
        if not allowed.issuperset(post_ids):
            break
        delivered.append(post)
    if posts and not delivered:
        # A repost whose original did not fit: nothing can be shown, so this is a refusal too.
        raise ReadBudgetExhausted(grant)
    delivered_ids_add(request, delivered_post_ids(delivered))
    # What the response says about AI training: the strictest of what it carries.
    content_usage_state(request=request, posts=delivered)
    return delivered

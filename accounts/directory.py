"""The directory of accounts: accounts by id, the tiers, and the instance's figures (cached)."""

import contextlib

from django.core.cache import cache
from django.db.models import QuerySet, Sum

from accounts.models import Tier, User
from core.cache_errors import CACHE_ERRORS
from core.prepared import BIGINT_MAX, shape_rows

INSTANCE_STATS_SECONDS = 600  # counting every row is not worth doing per request


def _active_account(account_id: int) -> QuerySet:
    return User.objects.filter(pk=account_id, is_active=True)


def account_get(*, account_id: int) -> User | None:
    """The active account with this id, or None. A prepared statement (``core.prepared``):
    every account route looks one up, and compiling and planning the ORM's query cost more
    than running it."""
    if not 0 < account_id <= BIGINT_MAX:  # no such id (and no prepared bigint can hold it)
        return None
    return next(iter(shape_rows(_active_account, account_id=account_id)), None)


def account_ids_existing(*, account_ids: list[int]) -> set[int]:
    """Which of ``account_ids`` are active accounts."""
    return set(User.objects.filter(pk__in=account_ids, is_active=True).values_list("pk", flat=True))


def tiers_list() -> list[Tier]:
    """Every reading tier, in the admin's order."""
    return list(Tier.objects.all())


def instance_stats() -> dict[str, int]:
    """How many accounts and posts there are (cached for ten minutes)."""
    try:
        stats = cache.get("api:instance_stats")
    except CACHE_ERRORS:
        stats = None
    if stats is None:
        totals = User.objects.filter(is_active=True).aggregate(posts=Sum("posts_count"))
        stats = {
            "user_count": User.objects.filter(is_active=True).count(),
            "status_count": totals["posts"] or 0,
            "domain_count": 0,
        }
        with contextlib.suppress(*CACHE_ERRORS):
            cache.set("api:instance_stats", stats, INSTANCE_STATS_SECONDS)
    return stats

"""The read gate: the one place where posts delivered to a reader are charged to their budget.

Every code path that shows posts to a reader — web timelines, profiles, post pages and every
API endpoint that returns statuses — calls ``posts_deliver`` before rendering or serializing.
It returns the posts that may be delivered (a prefix of the page: a partial page is cut at the
first post that would need budget that is not there) and the reader's ``ReadGrant``, which the
response layer turns into ``RateLimit``/``X-RateLimit-*`` headers. When nothing may be
delivered it raises ``ReadBudgetExhausted``, which the web and API layers turn into a 429.

This first version delivers everything and charges nothing: the ledgers, tiers and
enforcement modes arrive with the read-budget issue behind this same interface.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.http import HttpRequest
from django.utils import timezone

from feeds.models import Post


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
    mode: str = "enforce"
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
    start = now.astimezone(timezone.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)


def delivered_post_ids(posts: list[Post]) -> list[int]:
    """The ids a page delivers, in order: each post, and a repost's original right after it."""
    ids: list[int] = []
    for post in posts:
        ids.append(post.pk)
        if post.repost_of_id:
            ids.append(post.repost_of_id)
    return ids


def read_gate(*, request: HttpRequest, post_ids: list[int]) -> ReadGrant:
    """Charge ``post_ids`` (in order) to the reader of ``request`` and say which may go out."""
    return ReadGrant(
        delivered_ids=list(post_ids),
        refused_count=0,
        newly_charged=0,
        limit=None,
        used=0,
        reset_at=window_reset_at(),
        tier="unmetered",
        mode="off",
    )


def posts_deliver(*, request: HttpRequest, posts: list[Post]) -> list[Post]:
    """Pass a page of posts through the gate; return the prefix that may be delivered.

    The grant is kept on ``request.read_grant`` for the response headers. Raises
    ``ReadBudgetExhausted`` when the page had posts and none may be delivered.
    """
    grant = read_gate(request=request, post_ids=delivered_post_ids(posts))
    request.read_grant = grant
    if grant.refused:
        raise ReadBudgetExhausted(grant)
    allowed = set(grant.delivered_ids)
    delivered: list[Post] = []
    for post in posts:
        if post.pk not in allowed or (post.repost_of_id and post.repost_of_id not in allowed):
            break
        delivered.append(post)
    return delivered

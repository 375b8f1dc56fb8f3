"""Reads the leak tracer makes of its own derived data — the reading volumes of a window, from
the per-reader-day roll-up of delivery provenance (``ReaderDayVolume``), never the raw rows —
and of the follow graph, to compare each reader with readers who relate to an author as it
does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Sum

from access.models import AccessLogEntry
from feeds.models import Follow, Post

from .models import ReaderDayVolume


@dataclass(frozen=True)
class WindowVolumes:
    """Who read on the window's days: how many readers, how many posts in all, and the volumes
    of the readers asked about."""

    readers: int
    total: int
    volumes: dict[str, int]


def window_volumes(*, days: list[date], readers: set[str]) -> WindowVolumes:
    """Readers and posts delivered on ``days`` (from the roll-up), and the volume over those
    days of each reader in ``readers`` (the suspects)."""
    if not days:
        return WindowVolumes(readers=0, total=0, volumes={})
    rows = ReaderDayVolume.objects.filter(day__in=days)
    # Grouped by reader, then counted: a hash aggregate over the window's reader-days (a
    # COUNT(DISTINCT) would sort them all).
    totals = (
        rows.values("reader")
        .annotate(volume=Sum("posts"))
        .order_by()
        .aggregate(readers=Count("reader"), posts=Sum("volume"))
    )
    volumes: dict[str, int] = {}
    wanted = sorted(readers)
    for start in range(0, len(wanted), 5000):
        for reader, posts in (
            rows.filter(reader__in=wanted[start : start + 5000])
            .values_list("reader")
            .annotate(Sum("posts"))
            .order_by()
        ):
            volumes[reader] = int(posts)
    return WindowVolumes(
        readers=int(totals["readers"] or 0), total=int(totals["posts"] or 0), volumes=volumes
    )


def reposters_of(*, post_ids: list[int]) -> dict[int, set[int]]:
    """post -> the accounts that reposted it (their followers got it on their home timeline)."""
    reposters: dict[int, set[int]] = {}
    rows = Post.objects.filter(repost_of_id__in=post_ids).values_list("repost_of_id", "author_id")
    for post_id, author_id in rows:
        reposters.setdefault(post_id, set()).add(author_id)
    return reposters


def followers_counted(*, followees: set[int]) -> dict[int, int]:
    """followee -> how many followers it has (one index-only count per followee on
    ``follow_followee_id_desc``). Every follower, reading in the window or not: a count too
    large only makes the readers who do not follow look more ordinary."""
    rows = (
        Follow.objects.filter(followee_id__in=sorted(followees))
        .values("followee_id")
        .annotate(followers=Count("id"))
        .order_by()
        .values_list("followee_id", "followers")
    )
    return {followee_id: int(count) for followee_id, count in rows}


def follows_among(*, followees: set[int], followers: set[int]) -> dict[int, set[int]]:
    """followee -> which of ``followers`` follow it (as the follow table is now)."""
    found: dict[int, set[int]] = {}
    wanted = sorted(followers)
    for start in range(0, len(wanted), 5000):
        rows = Follow.objects.filter(
            followee_id__in=sorted(followees), follower_id__in=wanted[start : start + 5000]
        ).values_list("followee_id", "follower_id")
        for followee_id, follower_id in rows:
            found.setdefault(followee_id, set()).add(follower_id)
    return found


def records_on_routes(*, record_ids: list[str], routes: tuple[str, ...]) -> set[str]:
    """Which of these access-log records were requests to one of ``routes`` (by the unique
    ``record_id`` index; a record the log's retention already purged is simply not found)."""
    found: set[str] = set()
    for start in range(0, len(record_ids), 5000):
        found.update(
            AccessLogEntry.objects.filter(
                record_id__in=record_ids[start : start + 5000], route_name__in=routes
            ).values_list("record_id", flat=True)
        )
    return found

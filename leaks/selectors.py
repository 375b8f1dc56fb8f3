"""Reads the leak tracer makes of its own derived data: the reading volumes of a window, from
the per-reader-day roll-up of delivery provenance (``ReaderDayVolume``), never the raw rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Sum

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

"""Reads of delivery provenance for the leak tracer (personal data: reviewers only).

A *reader* here is an account ("user:<id>") or, for logged-out readers, their IP prefix
("ip:<IPv4 /24 or IPv6 /64>"): a logged-out crawler rotating addresses inside one network is
one reader, as the reviewers' IP blocks see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import connections
from django.db.models import Sum

from .models import DeliveryProvenance


@dataclass(frozen=True)
class Delivery:
    """One provenance row, cut down to the posts of interest."""

    reader: str
    principal: str
    user_id: int | None
    token_id: int | None
    client_ip: str | None
    ip_prefix: str
    day: date
    created_at: datetime
    post_ids: tuple[int, ...]
    record_id: str = ""  # the access-log record it was written with (its route, for tracing)


def provenance_reader(user_id: int | None, ip_prefix: str) -> str:
    """The reader a provenance row belongs to, for tracing."""
    return f"user:{user_id}" if user_id is not None else f"ip:{ip_prefix}"


def deliveries_of_posts(*, post_ids: list[int]) -> list[Delivery]:
    """Every delivery of any of ``post_ids``, each with only those of its ids.

    PostgreSQL: ``post_ids && ARRAY[…]`` on the GIN index, then the intersection per row.
    Elsewhere (SQLite, the demo default): every row is read and filtered here.
    """
    wanted = sorted({int(pid) for pid in post_ids})
    if not wanted:
        return []
    fields = (
        "principal",
        "user_id",
        "token_id",
        "client_ip",
        "ip_prefix",
        "day",
        "created_at",
        "record_id",
    )
    connection = connections[DeliveryProvenance.objects.db]
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(DeliveryProvenance._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(name) for name in fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT {columns}, ARRAY(
                        SELECT unnest(post_ids) INTERSECT SELECT unnest(%s::bigint[])
                    ) FROM {table} WHERE post_ids && %s::bigint[]""",  # noqa: S608 - our names
                [wanted, wanted],
            )
            rows = cursor.fetchall()
    else:
        wanted_set = set(wanted)
        rows = []
        for values in DeliveryProvenance.objects.values_list(*fields, "post_ids").iterator():
            hits = [pid for pid in values[-1] if pid in wanted_set]
            if hits:
                rows.append((*values[:-1], hits))
    return [
        Delivery(
            reader=provenance_reader(user_id, prefix),
            principal=principal,
            user_id=user_id,
            token_id=token_id,
            client_ip=str(ip) if ip is not None else None,
            ip_prefix=prefix,
            day=day,
            created_at=created_at,
            post_ids=tuple(sorted(hits)),
            record_id=record_id,
        )
        for principal, user_id, token_id, ip, prefix, day, created_at, record_id, hits in rows
    ]


def reader_volumes(*, days: list[date]) -> dict[str, int]:
    """Posts delivered to each reader on ``days`` (every reader who read anything then), from
    the raw rows. The tracer reads the same figures from the reader-day roll-up
    (``leaks.selectors.window_volumes``); this is what the roll-up is checked against."""
    rows = DeliveryProvenance.objects.filter(day__in=days)
    volumes: dict[str, int] = {}
    for user_id, total in (
        rows.filter(user_id__isnull=False).values_list("user_id").annotate(Sum("post_count"))
    ):
        volumes[provenance_reader(user_id, "")] = int(total)
    for prefix, total in (
        rows.filter(user_id__isnull=True).values_list("ip_prefix").annotate(Sum("post_count"))
    ):
        volumes[provenance_reader(None, prefix)] = int(total)
    return volumes

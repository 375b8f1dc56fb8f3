"""The per-reader-day roll-up of delivery provenance (``ReaderDayVolume``): rebuilt from the raw
rows on demand. Day to day it needs no job: triggers on the provenance table keep it exact
(migration ``leaks.0002_reader_day_rollup_triggers``)."""

from __future__ import annotations

from django.db import connections, transaction

from access.models import DeliveryProvenance

from .models import ReaderDayVolume

READER = "CASE WHEN user_id IS NOT NULL THEN 'user:' || user_id ELSE 'ip:' || ip_prefix END"


def reader_days_rebuild() -> int:
    """Recompute the roll-up from the raw provenance (after a bulk load that bypassed the
    triggers, or to check it); returns how many reader-days it holds. Inserts into the
    provenance wait meanwhile (PostgreSQL: SHARE lock), so nothing is counted twice or missed."""
    connection = connections[ReaderDayVolume.objects.db]
    raw = connection.ops.quote_name(DeliveryProvenance._meta.db_table)
    rollup = connection.ops.quote_name(ReaderDayVolume._meta.db_table)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {raw} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {rollup}")  # noqa: S608 - our tables' names
        cursor.execute(
            f"""INSERT INTO {rollup} (day, reader, posts, rows)
                SELECT day, {READER}, sum(post_count), count(*) FROM {raw}
                GROUP BY day, {READER}"""  # noqa: S608
        )
    return ReaderDayVolume.objects.count()

"""Delivery provenance: which posts went to which reader, through which token and IP, when.

Written with the access-log record, by the same path and with the same guarantees
(``access/access_log.py``, ``access/access_log_drain.py``): on the database ledger in the
charging transaction; on the Redis ledger the charging script puts the newly charged ids in
the same stream entry as the record, and the drain stores both in one transaction, idempotent
by ``record_id``. Only newly charged ids are
kept: a re-read the same day delivers nothing new, and the first delivery is what a leak can
come from. Read by ``leaks/`` (the tracer) and nobody else; purged only by
``access.services_provenance.provenance_purge`` (recorded in the admin action log).
"""

from __future__ import annotations

from datetime import UTC

from django.utils.dateparse import parse_datetime

from .models import DeliveryProvenance

STREAM_FIELD = "p"  # the stream entry field holding the newly charged ids, comma-separated


def provenance_row(record, post_ids: list[int]) -> DeliveryProvenance | None:
    """The unsaved provenance row for an access record (``access_log.AccessRecord``) that
    delivered ``post_ids`` for the first time that day; None when it delivered nothing new."""
    if not post_ids:
        return None
    created_at = parse_datetime(record.created_at).astimezone(UTC)
    return DeliveryProvenance(
        record_id=record.record_id,
        day=created_at.date(),  # the UTC date: the read window's day
        created_at=created_at,
        principal=record.principal,
        user_id=record.user_id,
        token_id=record.token_id,
        client_ip=record.client_ip,
        ip_prefix=record.ip_prefix,
        post_count=len(post_ids),
        post_ids=[int(pid) for pid in post_ids],
    )


def provenance_ids_parse(raw: str) -> list[int]:
    """The ids of a stream entry's ``p`` field ("" when nothing was newly charged)."""
    return [int(pid) for pid in raw.split(",") if pid]

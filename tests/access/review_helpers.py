"""Crafted access-log records for the detector and review tests (created directly)."""

import uuid
from datetime import UTC, datetime, timedelta

from access.models import AccessLogEntry
from core.client_ip import review_prefix

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0"


def log_entry(*, at: datetime, user=None, ip: str = "203.0.113.7", **fields) -> AccessLogEntry:
    """One access-log record as the gate writes it, with sensible defaults."""
    principal = f"user:{user.pk}" if user is not None else f"ip:{ip}/32"
    values = {
        "record_id": uuid.uuid4().hex,
        "created_at": at,
        "principal": principal,
        "user": user,
        "tier": "new" if user is not None else "anonymous",
        "client_ip": ip,
        "ip_prefix": review_prefix(ip),
        "user_agent": BROWSER,
        "route_name": "feeds:public",
        "path": "/public/",
        "paging": {},
        "status": 200,
        "delivered": 20,
        "newly_charged": 20,
        "refused": 0,
        "remaining": 400,
        "mode": "enforce",
    }
    values.update(fields)
    return AccessLogEntry.objects.create(**values)


def every(seconds: float, count: int, start: datetime = T0):
    """``count`` instants ``seconds`` apart from ``start``."""
    return [start + timedelta(seconds=seconds * i) for i in range(count)]

"""The one shape of rate-limit headers (core/waits.py)."""

from dataclasses import dataclass
from datetime import UTC, datetime

from core.waits import rate_limit_headers


@dataclass
class Limited:
    reset_at: datetime


def test_rate_limit_headers_follow_the_ietf_draft_and_mastodon():
    """Ensures that one limit is stated as the IETF draft's RateLimit-Policy/RateLimit pair
    and Mastodon's X-RateLimit-* headers, with the reset time in Mastodon's ISO 8601 form."""
    headers = rate_limit_headers(
        Limited(reset_at=datetime(2026, 11, 27, tzinfo=UTC)),
        policy="daily-reads",
        quota=1000,
        window_seconds=86400,
        remaining=640,
        reset_in=5400,
    )
    assert headers == {
        "RateLimit-Policy": '"daily-reads";q=1000;w=86400',
        "RateLimit": '"daily-reads";r=640;t=5400',
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "640",
        "X-RateLimit-Reset": "2026-11-27T00:00:00.000Z",
    }

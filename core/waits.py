"""One way to say a wait and a reset time, for read budgets and request-rate limits alike."""

import math
from datetime import UTC, datetime
from functools import lru_cache


def reset_at_iso(limited) -> str:
    """``reset_at`` of a ``ReadGrant`` or a request-rate ``RateLimitStatus``, as Mastodon writes
    times: 2026-11-27T00:00:00.000Z."""
    return _utc_iso(limited.reset_at)


@lru_cache(maxsize=256)
def _utc_iso(moment: datetime) -> str:
    # Remembered: a read budget's reset is the same moment for every response of a day.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def rate_limit_headers(
    limited, *, policy: str, quota: int, window_seconds: int, remaining: int, reset_in: int
) -> dict[str, str]:
    """The headers that state one limit (``limited`` has its ``reset_at``): the IETF httpapi
    ratelimit-headers draft's ``RateLimit-Policy: "<policy>";q=<quota>;w=<window>`` and
    ``RateLimit: "<policy>";r=<remaining>;t=<seconds to reset>``, and Mastodon's
    ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (ISO 8601).
    Read budgets, request-rate refusals and licence quotas all say it this way."""
    return {
        "RateLimit-Policy": f'"{policy}";q={quota};w={window_seconds}',
        "RateLimit": f'"{policy}";r={remaining};t={reset_in}',
        "X-RateLimit-Limit": str(quota),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": reset_at_iso(limited),
    }


def duration_text(seconds: int) -> str:
    """A wait as people say it: "40 s", "25 min", "3 h 5 min" (read budgets and rate limits)."""
    if seconds < 60:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    minutes = math.ceil(rest / 60)
    if minutes == 60:
        hours, minutes = hours + 1, 0
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"

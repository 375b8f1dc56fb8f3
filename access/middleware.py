"""Tells every metered response where the reader stands: rate-limit headers from the grant."""

import math

from django.utils import timezone
from django.utils.cache import patch_cache_control

from core.ratelimits import is_paging_request, rate_limited_page, ratelimit_check
from core.waits import rate_limit_headers

from .content_usage import content_usage_headers
from .gate import MODE_OFF, ReadGrant
from .ratelimit_records import rate_limited_record
from .responses import reset_at_iso, retry_after_seconds

POLICY = "daily-reads"
WINDOW_SECONDS = 86400


def read_budget_headers(grant: ReadGrant) -> dict[str, str]:
    """The headers for one grant (none in "off" mode).

    IETF httpapi ratelimit-headers draft: ``RateLimit-Policy: "daily-reads";q=1000;w=86400``
    and ``RateLimit: "daily-reads";r=640;t=5400``; Mastodon: ``X-RateLimit-Limit``,
    ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (ISO 8601). An unlimited reader has
    no quota to state, so gets only ``X-RateLimit-Reset`` and ``X-Read-Budget: unlimited``
    with the day's count in ``X-Reads-Used`` (they are still counted).
    """
    if grant.mode == MODE_OFF:
        return {}
    seconds = max(math.ceil((grant.reset_at - timezone.now()).total_seconds()), 0)
    headers = {"X-RateLimit-Reset": reset_at_iso(grant), "X-Reads-Used": str(grant.used)}
    if grant.limit is None:
        headers["X-Read-Budget"] = "unlimited"
        return headers
    headers.update(
        rate_limit_headers(
            grant,
            policy=POLICY,
            quota=grant.limit,
            window_seconds=WINDOW_SECONDS,
            remaining=grant.remaining,
            reset_in=seconds,
        )
    )
    return headers


class ReadBudgetHeadersMiddleware:
    """Adds the read-budget headers to any response whose request passed the read gate, and
    what the response says about AI training of the posts it carries (``content_usage``).

    Also marks such responses ``Cache-Control: private`` (they are one reader's metered view)
    and adds ``Retry-After`` to a refusal (429) that does not carry one yet.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        grant = getattr(request, "read_grant", None)
        if grant is None:
            return response
        headers = read_budget_headers(grant)
        usage = getattr(request, "content_usage", None)
        if usage is not None:
            headers.update(content_usage_headers(usage, request=request))
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if headers:
            patch_cache_control(response, private=True)
        if response.status_code == 429 and grant.refused and "Retry-After" not in response:
            response["Retry-After"] = str(retry_after_seconds(grant))
        return response


class PagingRateLimitMiddleware:
    """Counts every web paging request (max_id/min_id/since_id) against the "paging" group.

    API views are left to their base view, which knows the token-authenticated reader. Here
    (not in core/) because a refusal is written to the access log, like the gate's.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "cls", None) is not None:  # a DRF view (APIView.as_view)
            return None
        if not is_paging_request(request):
            return None
        refused = ratelimit_check(request, "paging")
        if refused is None:
            return None
        rate_limited_record(request=request)
        return rate_limited_page(request, refused)

"""The caller's limits: the daily read budget and the request-rate groups that apply to them."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from access.middleware import POLICY, WINDOW_SECONDS
from access.selectors import read_meter_get
from core.ratelimits import (
    RateLimitStatus,
    ratelimit_statuses,
    reset_at_iso,
)
from licensing.selectors import licence_quota_status

from ..schemas import RateLimitedErrorSerializer, RateLimitsSerializer, errors
from .base import ApiView


def _request_limit(status: RateLimitStatus) -> dict:
    return {
        "policy": status.group,
        "key": status.key,
        "rate": status.rate,
        "limit": status.limit,
        "window": status.window_seconds,
        "used": status.used,
        "remaining": status.remaining,
        "reset_at": reset_at_iso(status),
    }


class RateLimitsView(ApiView):
    """GET /api/v1/rate_limits: where the caller stands against every limit, free of charge.

    The read budget is read without charging anything. The call itself counts as one API
    request (no endpoint escapes that limit), and the figures include it.
    """

    required_scopes: dict = {"GET": ()}  # any token may see its own limits

    @extend_schema(
        operation_id="rate_limits",
        responses={
            200: RateLimitsSerializer,
            **errors(401),
            429: OpenApiResponse(
                RateLimitedErrorSerializer,
                description="The API request limit is spent; Retry-After says when to ask again.",
            ),
        },
        tags=["rate limits"],
    )
    def get(self, request):
        meter = read_meter_get(request=request)
        read_budget = {
            "policy": POLICY,
            "tier": meter.tier,
            "limit": meter.limit,
            "used": meter.used,
            "remaining": meter.remaining,
            "window": WINDOW_SECONDS,
            "reset_at": reset_at_iso(meter),
            "enforcement": meter.mode,
        }
        request_limits = [
            _request_limit(status)
            for group in settings.REQUEST_RATE_LIMITS
            for status in ratelimit_statuses(request, group)
        ]
        data = {"read_budget": read_budget, "request_limits": request_limits}
        licence_quota = licence_quota_status(request.auth)
        if licence_quota is not None:
            data["licence_quota"] = licence_quota
        return Response(data)

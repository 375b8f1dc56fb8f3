"""GET /api/v1/licensed/statuses: the licensed lane's bulk endpoint (docs/licensing.md).

Only tokens created for an active data licence may call it. It delivers posts whose authors
allow AI training, newest first and keyset-paged like a timeline, as JSON or JSON lines;
each post is charged once per UTC day to the licence's monthly quota (not to anyone's daily
read budget), and every response carries a signed receipt for exactly what it delivered.
"""

import math

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from access.content_usage import content_usage_for, content_usage_headers
from core.waits import rate_limit_headers, reset_at_iso
from feeds import selectors as feeds
from licensing.quota import month_window_seconds
from licensing.selectors import licence_for_token, licence_refusal
from licensing.services import LicenceQuotaExhausted, LicensedDelivery, licensed_deliver

from ..pagination import page_request, paginated
from ..permissions import IsAuthenticatedMastodon, TokenHasScope
from ..renderers import JSONLinesRenderer, JSONRenderer
from ..schemas import PAGE_PARAMETERS, StatusSerializer, errors
from .base import ApiView

POLICY = "licensed-posts"
NOT_LICENSED = (
    "This endpoint needs an API token created for an active data licence. Buy a data plan "
    "and create a token for it under Settings → Data licences."
)


def licence_quota_headers(delivery: LicensedDelivery) -> dict[str, str]:
    """The rate-limit headers for a licence's monthly quota (IETF draft and Mastodon's)."""
    now = timezone.now()
    seconds = max(math.ceil((delivery.reset_at - now).total_seconds()), 0)
    window = month_window_seconds(now.date())
    remaining = max(delivery.quota - delivery.used, 0)
    return rate_limit_headers(
        delivery,
        policy=POLICY,
        quota=delivery.quota,
        window_seconds=window,
        remaining=remaining,
        reset_in=seconds,
    )


class LicensedStatusesView(ApiView):
    """GET /api/v1/licensed/statuses: licensable posts for a data licensee."""

    permission_classes = [IsAuthenticatedMastodon, TokenHasScope]
    required_scopes = {"GET": "read:statuses"}
    renderer_classes = [JSONRenderer, JSONLinesRenderer]

    @extend_schema(
        operation_id="licensed_statuses",
        parameters=[
            *[p for p in PAGE_PARAMETERS if p.name != "limit"],
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": settings.LICENSING_PAGE_MAX},
                description=f"Posts per page (default {settings.LICENSING_PAGE_SIZE}).",
            ),
            OpenApiParameter(
                "format", OpenApiTypes.STR, enum=["json", "jsonl"], description="jsonl: a line each"
            ),
        ],
        # 404: an unknown ?format= (DRF's format negotiation); 406: an Accept it cannot serve.
        responses={200: StatusSerializer(many=True), **errors(400, 401, 403, 404, 406, 429)},
        tags=["licensed"],
    )
    def get(self, request):
        licence = licence_for_token(request.auth)
        if licence is None:
            raise PermissionDenied(NOT_LICENSED)
        if not licence.is_usable():
            raise PermissionDenied(licence_refusal(licence))
        page = page_request(
            request, default=settings.LICENSING_PAGE_SIZE, maximum=settings.LICENSING_PAGE_MAX
        )
        posts = feeds.timeline_licensable(page=page)
        try:
            delivery = licensed_deliver(request=request, licence=licence, posts=posts)
        except LicenceQuotaExhausted as exc:
            return self._refused(request, licence, exc.delivery)
        response = Response(self.entities().statuses(delivery.posts))
        ids = [post.pk for post in delivery.posts]
        paginated(response, request, ids=ids, page=page, fetched=len(posts))
        self._headers(request, response, delivery)
        return response

    def _headers(self, request, response, delivery: LicensedDelivery) -> None:
        headers = licence_quota_headers(delivery)
        # What the page carries says so in the standard forms, as the gate's pages do (the
        # authors here allow it; an empty page or a refusal states the site default).
        headers.update(content_usage_headers(content_usage_for(delivery.posts), request=request))
        if delivery.receipt:
            headers["Licence-Receipt"] = delivery.receipt
            headers["Licence-Receipt-Id"] = delivery.receipt_id
        for name, value in headers.items():
            response[name] = value
        response["Cache-Control"] = "private, no-store"

    def _refused(self, request, licence, delivery: LicensedDelivery):
        seconds = max(math.ceil((delivery.reset_at - timezone.now()).total_seconds()), 1)
        error = (
            f"Your {licence.plan.name} data plan's {delivery.quota:,} posts for this month "
            f"are used. The quota resets at 00:00 UTC on the 1st ({reset_at_iso(delivery)}); "
            "a bigger plan gives more now."
        )
        code = "licence_quota_exhausted"
        if delivery.ledger_unavailable:
            # The quota's ledger could not be reached: it fails closed, briefly.
            seconds = settings.ACCESS_LEDGER_UNAVAILABLE_RETRY_AFTER
            error = (
                "The licence quota cannot be checked right now, so nothing was delivered or "
                f"charged. Please retry in {seconds} seconds."
            )
            code = "licence_quota_unavailable"
        payload = {
            "error": error,
            "code": code,
            "limit": delivery.quota,
            "remaining": 0,
            "reset_at": reset_at_iso(delivery),
            "tier": f"licensed:{licence.plan.slug}",
            "upgrade_url": request.build_absolute_uri(reverse("licensing:plans")),
        }
        response = Response(payload, status=429)
        self._headers(request, response, delivery)
        response["Retry-After"] = str(seconds)
        return response

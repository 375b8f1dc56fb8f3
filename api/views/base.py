"""What every API view shares: entity building, the read gate and the request-rate limits."""

from rest_framework.response import Response
from rest_framework.views import APIView

from access.gate import posts_deliver
from access.ratelimit_records import rate_limited_record
from core.ratelimits import (
    RequestRateLimited,
    api_request_rate_check,
    rate_limited_headers,
    rate_limited_payload,
)

from ..entities import EntityBuilder


class ApiView(APIView):
    """Base for the API's views.

    ``request_rate_groups`` maps a method to the request-rate groups it also counts against
    (e.g. ``{"POST": ["post"]}``), beyond "api" (every request) and "paging" (cursors).
    """

    request_rate_groups: dict[str, list[str]] = {}

    def perform_content_negotiation(self, request, force=False):
        # What almost every client sends, answered without parsing the header or making every
        # renderer: no format asked for, and no Accept, "*/*" or exactly the first renderer's
        # media type, for which DRF's negotiation picks the first renderer with its media type
        # (tests/api/test_request_cycle.py compares the two on every view).
        renderer_class = self.renderer_classes[0]
        django_request = getattr(request, "_request", request)
        if (
            django_request.META.get("HTTP_ACCEPT") in (None, "*/*", renderer_class.media_type)
            and getattr(self, "format_kwarg", None) is None
            and self.settings.URL_FORMAT_OVERRIDE not in django_request.GET
        ):
            return renderer_class(), renderer_class.media_type
        return super().perform_content_negotiation(request, force=force)

    def perform_authentication(self, request):
        # Counted right after authentication (the token and user are known) and before the
        # permissions, so refused and unauthenticated calls count too. A bad token falls back
        # to the anonymous IP's counter, so guessing tokens is limited as well.
        try:
            super().perform_authentication(request)
        finally:
            api_request_rate_check(request, self.request_rate_groups.get(request.method, ()))

    def auth_alongside(self, request):
        """Redis reads to make in the same round trip as the bearer token's check
        (``accounts.auth_cache.AlongsideReads``), or None. Called while authenticating,
        before anything about the caller is trusted: a view uses the answers only once the
        request is authenticated, and only for that user."""
        return None

    def handle_exception(self, exc):
        if isinstance(exc, RequestRateLimited):
            rate_limited_record(request=self.request)  # the detectors see it like any 429
            return Response(
                rate_limited_payload(exc.status),
                status=429,
                headers=rate_limited_headers(exc.status),
            )
        return super().handle_exception(exc)

    def entities(self) -> EntityBuilder:
        return EntityBuilder(self.request)

    def deliver(self, posts: list) -> list:
        """Pass posts through the read gate; return the prefix the reader may be sent.

        Raises ``ReadBudgetExhausted`` (→ 429) when none may.
        """
        return posts_deliver(request=self.request, posts=posts)

    def deliver_answer(self, posts: list) -> list:
        """The gate for a write's answer: as ``deliver``, but the caller's own posts are free.

        Call it before acting, so that a refused write (429) changes nothing.
        """
        return posts_deliver(request=self.request, posts=posts, charge_own=False)

"""Timelines: the caller's home and everyone's public posts, metered through the read gate."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response

from access.reading_policy import PUBLIC_TIMELINE
from feeds import selectors as feeds
from feeds.home_feed import HomeFeedFirstRead, home_feed_get, home_feed_slices_given
from feeds.references import tag_name_valid
from feeds.tags import tag_get, timeline_tag

from ..pagination import page_request, paginated
from ..params import query_bool
from ..permissions import IsAuthenticatedMastodon, TokenHasScope
from ..schemas import PAGE_PARAMETERS, StatusSerializer, errors
from .base import ApiView

TAGS = ["timelines"]


class _TimelineView(ApiView):
    def respond(self, request, page, posts):
        delivered = self.deliver(posts)
        response = Response(self.entities().statuses(delivered))
        return paginated(
            response, request, ids=[p.pk for p in delivered], page=page, fetched=len(posts)
        )


def _remote_or_media_only(params) -> bool:
    """``remote`` or ``only_media`` asked for (no post here is either, so the page is empty);
    both are read first, so a bad flag is a 400 whatever the other says."""
    remote, only_media = query_bool(params, "remote"), query_bool(params, "only_media")
    return remote or only_media


class HomeTimelineView(_TimelineView):
    """GET /api/v1/timelines/home: the caller's posts and those of the people they follow."""

    required_scopes = {"GET": "read:statuses"}
    permission_classes = [IsAuthenticatedMastodon, TokenHasScope]

    @extend_schema(
        operation_id="timelines_home",
        parameters=PAGE_PARAMETERS,
        responses={200: StatusSerializer(many=True), **errors(400, 401, 403, 429)},
        tags=TAGS,
    )
    def get(self, request):
        page = page_request(request)
        first = getattr(self, "_first_read", None)
        with home_feed_slices_given([first] if first else [], user_id=request.user.pk):
            posts = feeds.timeline_home(viewer=request.user, page=page, shallow=True)
        return self.respond(request, page, posts)

    def auth_alongside(self, request):
        """The page's first read of the materialised timeline, made in the token check's
        round trip, with the arguments the selector's first read takes
        (``feeds.selectors.home_first_read``); a read it does not answer goes to Redis as
        before (a round trip more, never a different page)."""
        feed = home_feed_get()
        if feed is None:
            return None
        try:
            page = page_request(request)
        except APIException:
            return None  # malformed: the view answers the 400 (or 404)
        self._first_read = HomeFeedFirstRead(feed, **feeds.home_first_read(page))
        return self._first_read


class PublicTimelineView(_TimelineView):
    """GET /api/v1/timelines/public: everyone's posts and replies (no reblogs), newest first."""

    required_scopes = {"GET": "read:statuses"}
    reading_feed = PUBLIC_TIMELINE

    @extend_schema(
        operation_id="timelines_public",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("local", OpenApiTypes.BOOL, description="Every post is local."),
            OpenApiParameter("remote", OpenApiTypes.BOOL, description="Always empty."),
            OpenApiParameter("only_media", OpenApiTypes.BOOL, description="Always empty."),
        ],
        responses={200: StatusSerializer(many=True), **errors(400, 401, 403, 429)},
        tags=TAGS,
    )
    def get(self, request):
        page = page_request(request)
        params = request.query_params
        query_bool(params, "local")  # validated; every post here is local
        if _remote_or_media_only(params):
            return Response([])
        posts = feeds.timeline_public(viewer=request.user, page=page, shallow=True)
        return self.respond(request, page, posts)


class TagTimelineView(_TimelineView):
    """GET /api/v1/timelines/tag/:hashtag: posts carrying the hashtag, newest first. A name
    that cannot be a hashtag is a 404; one nobody used yet is an empty (still metered) page."""

    required_scopes = {"GET": "read:statuses"}

    reading_feed = PUBLIC_TIMELINE

    @extend_schema(
        operation_id="timelines_tag",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("local", OpenApiTypes.BOOL, description="Every post is local."),
            OpenApiParameter("remote", OpenApiTypes.BOOL, description="Always empty."),
            OpenApiParameter("only_media", OpenApiTypes.BOOL, description="Always empty."),
        ],
        responses={200: StatusSerializer(many=True), **errors(400, 401, 403, 404, 429)},
        tags=TAGS,
    )
    def get(self, request, hashtag):
        if not tag_name_valid(hashtag):
            raise NotFound("That is not a hashtag.")
        page = page_request(request)
        params = request.query_params
        query_bool(params, "local")
        if _remote_or_media_only(params):
            return Response([])
        tag = tag_get(name=hashtag)
        posts = timeline_tag(tag=tag, viewer=request.user, page=page, shallow=True) if tag else []
        return self.respond(request, page, posts)

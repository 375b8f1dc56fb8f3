"""What Mastodon apps call when they start, answered the way Mastodon does: real data where
we have it, an empty list where the feature does not exist here (Takahē's choice; apps such as
Ivory crash on a 404), NodeInfo, and a clear refusal of the streaming API."""

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.directory import instance_stats

from ..permissions import IsAuthenticatedMastodon, TokenHasScope
from ..schemas import errors
from .base import ApiView
from .instance import TITLE, VERSION

AUTHENTICATED = [IsAuthenticatedMastodon, TokenHasScope]
# One component for every "feature we do not have": always an empty list.
_NOTHING = {"type": "array", "items": {"type": "object"}, "maxItems": 0}
_PREFERENCES = inline_serializer(
    "Preferences",
    {
        "posting:default:visibility": serializers.CharField(),
        "posting:default:sensitive": serializers.BooleanField(),
        "posting:default:language": serializers.CharField(allow_null=True),
        "reading:expand:media": serializers.CharField(),
        "reading:expand:spoilers": serializers.BooleanField(),
    },
)


def _empty_list_view(name: str, path: str, *, scope: str | None, tag: str):
    """A view answering ``[]`` for a feature this server does not have (yet)."""

    class EmptyListView(ApiView):
        __doc__ = f"GET {path}: always [] (the feature does not exist on this server)."
        permission_classes = AUTHENTICATED if scope else [AllowAny]
        required_scopes = {"GET": scope} if scope else {}

        @extend_schema(
            operation_id=name,
            responses={200: _NOTHING, **errors(*((401, 403) if scope else (429,)))},
            tags=[tag],
        )
        def get(self, request, *args, **kwargs):
            return Response([])

    EmptyListView.__name__ = EmptyListView.__qualname__ = f"{name.title().replace('_', '')}View"
    return EmptyListView


FiltersV1View = _empty_list_view(
    "filters_v1", "/api/v1/filters", scope="read:filters", tag="filters"
)
FiltersV2View = _empty_list_view(
    "filters_v2", "/api/v2/filters", scope="read:filters", tag="filters"
)
ListsView = _empty_list_view("lists", "/api/v1/lists", scope="read:lists", tag="lists")
AnnouncementsView = _empty_list_view(
    "announcements", "/api/v1/announcements", scope="read", tag="instance"
)
FollowRequestsView = _empty_list_view(
    "follow_requests", "/api/v1/follow_requests", scope="read:follows", tag="accounts"
)
FollowedTagsView = _empty_list_view(
    "followed_tags", "/api/v1/followed_tags", scope="read:follows", tag="accounts"
)
CustomEmojisView = _empty_list_view(
    "custom_emojis", "/api/v1/custom_emojis", scope=None, tag="instance"
)
TrendsTagsView = _empty_list_view("trends_tags", "/api/v1/trends/tags", scope=None, tag="trends")
TrendsStatusesView = _empty_list_view(
    "trends_statuses", "/api/v1/trends/statuses", scope=None, tag="trends"
)
TrendsLinksView = _empty_list_view("trends_links", "/api/v1/trends/links", scope=None, tag="trends")


class PreferencesView(ApiView):
    """GET /api/v1/preferences: the caller's posting and reading defaults (ours are fixed:
    public posts, no content warnings)."""

    permission_classes = AUTHENTICATED
    required_scopes = {"GET": "read:accounts"}

    @extend_schema(
        operation_id="preferences",
        responses={200: _PREFERENCES, **errors(401, 403)},
        tags=["accounts"],
    )
    def get(self, request):
        return Response(
            {
                "posting:default:visibility": "public",
                "posting:default:sensitive": False,
                "posting:default:language": None,
                "reading:expand:media": "default",
                "reading:expand:spoilers": False,
            }
        )


_NODEINFO_LINKS = inline_serializer(
    "NodeInfoLinks", {"links": serializers.ListField(child=serializers.DictField())}
)
_NODEINFO = inline_serializer(
    "NodeInfo",
    {
        "version": serializers.CharField(),
        "software": serializers.DictField(),
        "protocols": serializers.ListField(child=serializers.CharField()),
        "services": serializers.DictField(),
        "openRegistrations": serializers.BooleanField(),
        "usage": serializers.DictField(),
        "metadata": serializers.DictField(),
    },
)


class NodeInfoWellKnownView(ApiView):
    """GET /.well-known/nodeinfo: where the NodeInfo document is."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="nodeinfo_links",
        responses={200: _NODEINFO_LINKS, **errors(429)},
        tags=["instance"],
    )
    def get(self, request):
        href = request.build_absolute_uri(reverse("api:nodeinfo"))
        schema = "http://nodeinfo.diaspora.software/ns/schema/2.0"
        return Response({"links": [{"rel": schema, "href": href}]})


class NodeInfoView(ApiView):
    """GET /nodeinfo/2.0: what software this is and how many use it (NodeInfo 2.0)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="nodeinfo", responses={200: _NODEINFO, **errors(429)}, tags=["instance"]
    )
    def get(self, request):
        stats = instance_stats()
        return Response(
            {
                "version": "2.0",
                "software": {"name": "microblog", "version": VERSION.split(" ", 1)[0]},
                "protocols": [],
                "services": {"inbound": [], "outbound": []},
                "openRegistrations": True,
                "usage": {
                    "users": {"total": stats["user_count"]},
                    "localPosts": stats["status_count"],
                },
                "metadata": {"nodeName": TITLE},
            }
        )


STREAMING_REFUSED = (
    "Streaming is not offered by this server. Poll the timelines instead "
    "(GET /api/v1/timelines/home with min_id)."
)


def streaming_health(request):
    """GET /api/v1/streaming/health: Mastodon's health check answers ``OK``."""
    return HttpResponse("OK", content_type="text/plain")


def streaming_refused(request, *args, **kwargs):
    """Any streaming endpoint: 501 with a sentence saying what to do instead."""
    return JsonResponse({"error": STREAMING_REFUSED}, status=501)

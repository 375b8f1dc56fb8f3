"""Notifications and markers, Mastodon-style.

A notification that carries a status is a delivery of that status: a page's statuses pass
the read gate as one page, and the page is cut at the first notification whose status the
budget cannot cover (as a timeline is). Follow notifications carry no status and cost nothing.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from feeds import notifications as notes
from feeds.models import Marker

from ..entities import iso
from ..pagination import ACCOUNTS_LIMIT, page_request, paginated
from ..params import CURSOR_SCHEMA, id_parse, path_id
from ..permissions import IsAuthenticatedMastodon, TokenHasScope
from ..schemas import (
    PAGE_PARAMETERS,
    MarkersSerializer,
    MarkersUpdateSerializer,
    NotificationSerializer,
    UnreadCountSerializer,
    errors,
)
from .base import ApiView

AUTHENTICATED = [IsAuthenticatedMastodon, TokenHasScope]
TAGS = ["notifications"]
NOTIFICATIONS_LIMIT = ACCOUNTS_LIMIT  # Mastodon: 40 by default, at most 80
TYPE_ENUM = sorted(notes.KNOWN_API_TYPES)
MAX_TYPES = 20


def _type_list(params, name: str) -> list[str] | None:
    """``types[]=mention&types[]=follow`` (or ``types=``): known Mastodon types only."""
    values = [*params.getlist(f"{name}[]"), *params.getlist(name)]
    if not values:
        return None
    if len(values) > MAX_TYPES:
        raise ValidationError(f"{name}: at most {MAX_TYPES} types.")
    unknown = [value for value in values if value not in notes.KNOWN_API_TYPES]
    if unknown:
        raise ValidationError(
            f"{name}: {unknown[0][:30]!r} is not a notification type; use one of "
            + ", ".join(TYPE_ENUM)
            + "."
        )
    return values


def _type_parameters() -> list[OpenApiParameter]:
    schema = {"type": "array", "items": {"type": "string", "enum": TYPE_ENUM}, "maxItems": 20}
    return [
        OpenApiParameter("types[]", schema, description="Only these types."),
        OpenApiParameter("exclude_types[]", schema, description="All but these types."),
        OpenApiParameter(
            "account_id", CURSOR_SCHEMA, description="Only notifications from this account."
        ),
    ]


class _NotificationView(ApiView):
    permission_classes = AUTHENTICATED

    def notifications_entities(self, rows) -> tuple[list[dict], bool]:
        """The entities of the notifications the gate lets out, and whether it cut the page."""
        delivered = self.deliver(notes.notification_posts(rows))
        shown = notes.notifications_cut(rows, delivered)
        entities = self.entities()
        # The page's statuses in one look-up of the render cache, encoded (not decoded again).
        with_posts = [row for row in shown.notifications if row.post_id]
        statuses = dict(
            zip(
                [row.pk for row in with_posts],
                entities.statuses([row.post for row in with_posts]),
                strict=True,
            )
        )
        notifications = [
            self.entity(entities, row, statuses.get(row.pk)) for row in shown.notifications
        ]
        return notifications, shown.cut_by_budget

    @staticmethod
    def entity(entities, row, status) -> dict:
        """Mastodon's Notification, with its status (None: it has none) built already."""
        return {
            "id": str(row.pk),
            "type": notes.api_type(row.kind),
            "group_key": f"ungrouped-{row.pk}",
            "created_at": iso(row.created_at),
            "account": entities.account(row.actor),
            "status": status,
        }


class NotificationsView(_NotificationView):
    """GET /api/v1/notifications: the caller's notifications, newest first, keyset-paged."""

    required_scopes = {"GET": "read:notifications"}

    @extend_schema(
        operation_id="notifications_list",
        parameters=[*PAGE_PARAMETERS, *_type_parameters()],
        responses={200: NotificationSerializer(many=True), **errors(400, 401, 403, 429)},
        tags=TAGS,
    )
    def get(self, request):
        params = request.query_params
        page = page_request(request, default=NOTIFICATIONS_LIMIT)
        types = _type_list(params, "types")
        exclude_types = _type_list(params, "exclude_types")
        account_id = None
        if params.get("account_id"):
            account_id = id_parse(params.get("account_id"))
            if account_id is None:
                raise ValidationError("account_id: that is not an account id.")
        rows = notes.notifications_page(
            user=request.user,
            page=page,
            types=types,
            exclude_types=exclude_types,
            account_id=account_id,
        )
        data, _cut = self.notifications_entities(rows)
        ids = [int(item["id"]) for item in data]
        return paginated(Response(data), request, ids=ids, page=page, fetched=len(rows))


class NotificationView(_NotificationView):
    """GET /api/v1/notifications/:id: one of the caller's notifications."""

    required_scopes = {"GET": "read:notifications"}

    @extend_schema(
        operation_id="notifications_get",
        responses={200: NotificationSerializer, **errors(401, 403, 404, 429)},
        tags=TAGS,
    )
    def get(self, request, notification_id):
        row = notes.notification_get(user=request.user, notification_id=path_id(notification_id))
        if row is None:
            raise NotFound("Record not found")
        data, _cut = self.notifications_entities([row])
        return Response(data[0])


class NotificationDismissView(ApiView):
    """POST /api/v1/notifications/:id/dismiss: delete one notification."""

    required_scopes = {"POST": "write:notifications"}

    permission_classes = AUTHENTICATED

    @extend_schema(
        operation_id="notifications_dismiss",
        request=None,
        responses={200: OpenApiTypes.OBJECT, **errors(401, 403, 404)},
        tags=TAGS,
    )
    def post(self, request, notification_id):
        found = notes.notification_dismiss(
            user=request.user, notification_id=path_id(notification_id)
        )
        if not found:
            raise NotFound("Record not found")
        return Response({})


class NotificationsClearView(ApiView):
    """POST /api/v1/notifications/clear: delete all of the caller's notifications."""

    required_scopes = {"POST": "write:notifications"}

    permission_classes = AUTHENTICATED

    @extend_schema(
        operation_id="notifications_clear",
        request=None,
        responses={200: OpenApiTypes.OBJECT, **errors(401, 403)},
        tags=TAGS,
    )
    def post(self, request):
        notes.notifications_clear(user=request.user)
        return Response({})


class UnreadCountView(ApiView):
    """GET /api/v1/notifications/unread_count: how many arrived after the marker (no
    statuses, so free of read-budget charge)."""

    required_scopes = {"GET": "read:notifications"}

    permission_classes = AUTHENTICATED

    @extend_schema(
        operation_id="notifications_unread_count",
        responses={200: UnreadCountSerializer, **errors(401, 403)},
        tags=TAGS,
    )
    def get(self, request):
        return Response({"count": notes.unread_count(user=request.user)})


def _marker_entity(marker: Marker) -> dict:
    return {
        "last_read_id": str(marker.last_read_id),
        "version": marker.version,
        "updated_at": iso(marker.updated_at),
    }


class MarkersView(ApiView):
    """GET and POST /api/v1/markers: the caller's read positions (home, notifications)."""

    required_scopes = {"GET": "read:statuses", "POST": "write:statuses"}

    permission_classes = AUTHENTICATED
    timelines = [value for value, _ in Marker.TIMELINES]

    @extend_schema(
        operation_id="markers_get",
        parameters=[
            OpenApiParameter(
                "timeline[]",
                {"type": "array", "items": {"type": "string", "enum": timelines}},
            )
        ],
        responses={200: MarkersSerializer, **errors(400, 401, 403)},
        tags=["markers"],
    )
    def get(self, request):
        params = request.query_params
        wanted = [*params.getlist("timeline[]"), *params.getlist("timeline")] or self.timelines
        unknown = [name for name in wanted if name not in self.timelines]
        if unknown:
            raise ValidationError("timeline: use home or notifications.")
        data = {}
        for name in dict.fromkeys(wanted):
            marker = notes.marker_get(user=request.user, timeline=name)
            if marker is not None:
                data[name] = _marker_entity(marker)
        return Response(data)

    @extend_schema(
        operation_id="markers_update",
        request={
            "application/json": MarkersUpdateSerializer,
            "application/x-www-form-urlencoded": OpenApiTypes.OBJECT,
        },
        responses={200: MarkersSerializer, **errors(400, 401, 403, 422)},
        tags=["markers"],
    )
    def post(self, request):
        data = request.data
        if not hasattr(data, "get"):
            raise ValidationError(
                'Send an object such as {"notifications": {"last_read_id": "12"}}.'
            )
        updates: dict[str, int] = {}
        for name in self.timelines:
            if name in data:  # JSON: {"notifications": {"last_read_id": "12"}}
                raw = data.get(name)
                if not isinstance(raw, dict) or raw.get("last_read_id") is None:
                    raise ValidationError(f"{name}: give last_read_id, the id read up to.")
                raw = raw["last_read_id"]
            elif f"{name}[last_read_id]" in data:  # a form: notifications[last_read_id]=12
                raw = data.get(f"{name}[last_read_id]")
            else:
                continue
            number = id_parse(raw)
            if number is None:
                raise ValidationError(
                    f"{name}[last_read_id]: must be an id (a positive whole number)."
                )
            updates[name] = number
        if not updates:
            return Response({})  # nothing asked to move (as Mastodon answers)
        markers = notes.markers_set(user=request.user, positions=updates)
        return Response({name: _marker_entity(marker) for name, marker in markers.items()})

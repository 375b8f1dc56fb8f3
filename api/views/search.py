"""Search: ``GET /api/v2/search`` (accounts, hashtags, statuses) and
``GET /api/v1/accounts/search``. Statuses found pass the read gate like a timeline page; every
search is logged through it (with its query) for the query-enumeration detector, and counts
against its own request-rate group, "search"."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from access.reading_policy import PROFILES, PUBLIC_TIMELINE
from feeds import search
from feeds.selectors import relationships

from ..pagination import ACCOUNTS_LIMIT, STATUSES_LIMIT, page_request
from ..params import query_bool, query_limit
from ..schemas import STATUS_TEXT_PATTERN, AccountSerializer, SearchResultsSerializer, errors
from .base import ApiView

TYPES = ("accounts", "hashtags", "statuses")
Q_PARAMETER = OpenApiParameter(
    "q",
    # Some text that is not blank, without control characters (refused: no post holds them).
    {"type": "string", "maxLength": search.QUERY_MAX_LENGTH, "pattern": STATUS_TEXT_PATTERN},
    required=True,
    description="What to look for: a name, #hashtag or words in posts.",
)
OFFSET_PARAMETER = OpenApiParameter(
    "offset",
    {"type": "integer", "minimum": 0, "maximum": search.ACCOUNTS_OFFSET_MAX},
    description="Skip this many accounts or hashtags (statuses page with max_id).",
)


def _query(params) -> str:
    q = params.get("q", "")
    try:
        q = search.query_clean(q if isinstance(q, str) else "")
    except DjangoValidationError as exc:
        raise ValidationError(f"q: {' '.join(exc.messages)}") from exc
    if not q:
        raise ValidationError("q: say what to search for, e.g. ?q=coffee")
    return q


def _offset(params) -> int:
    raw = params.get("offset")
    if raw is None:
        return 0
    if not str(raw).isascii() or not str(raw).isdigit():
        raise ValidationError("offset: a whole number from 0.")
    if len(str(raw)) > 6 or int(raw) > search.ACCOUNTS_OFFSET_MAX:
        raise ValidationError(
            f"offset: at most {search.ACCOUNTS_OFFSET_MAX}; search results go no deeper."
        )
    return int(raw)


class _SearchView(ApiView):
    reading_feed = PUBLIC_TIMELINE
    request_rate_groups = {"GET": ["search"]}

    def tag(self, entities, tag) -> dict:
        """Mastodon's Tag (no usage history is kept here)."""
        return {**entities.tag(tag.name), "history": []}

    def accounts(self, request, q: str, *, limit: int, offset: int) -> list:
        found = search.search_accounts(q=q, limit=limit, offset=offset)
        if query_bool(request.query_params, "following") and request.user.is_authenticated:
            flags = relationships(viewer=request.user, user_ids=[u.pk for u in found])
            found = [user for user in found if flags[user.pk]["following"]]
        return found


class SearchView(_SearchView):
    """GET /api/v2/search: accounts, hashtags and statuses matching ``q``."""

    required_scopes = {"GET": "read:search"}

    @extend_schema(
        operation_id="search_v2",
        parameters=[
            Q_PARAMETER,
            OpenApiParameter("type", {"type": "string", "enum": list(TYPES)}),
            OpenApiParameter("resolve", OpenApiTypes.BOOL, description="Ignored: no federation."),
            OpenApiParameter("following", OpenApiTypes.BOOL, description="Only accounts followed."),
            OpenApiParameter("max_id", {"type": "string", "pattern": r"^([1-9][0-9]{0,17})?$"}),
            OpenApiParameter("min_id", {"type": "string", "pattern": r"^([1-9][0-9]{0,17})?$"}),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1}),
            OFFSET_PARAMETER,
        ],
        responses={200: SearchResultsSerializer, **errors(400, 401, 403, 429)},
        tags=["search"],
    )
    def get(self, request):
        params = request.query_params
        q = _query(params)
        kind = params.get("type") or None
        if kind is not None and kind not in TYPES:
            raise ValidationError("type: one of accounts, hashtags or statuses.")
        query_bool(params, "resolve")
        query_bool(params, "following")
        offset = _offset(params)
        page = page_request(request, default=STATUSES_LIMIT)
        entities = self.entities()
        result = {"accounts": [], "statuses": [], "hashtags": []}
        if kind in (None, "accounts"):
            found = self.accounts(request, q, limit=page.limit, offset=offset)
            result["accounts"] = [entities.account(user) for user in found]
        if kind in (None, "hashtags"):
            tags = search.search_tags(q=q, limit=page.limit, offset=offset)
            result["hashtags"] = [self.tag(entities, tag) for tag in tags]
        posts = []
        if kind in (None, "statuses") and not offset:
            posts = search.search_posts(q=q, viewer=request.user, page=page)
        # Every search passes the gate (and is logged with its query), even with no statuses.
        delivered = self.deliver(posts)
        result["statuses"] = entities.statuses(delivered)
        return Response(result)


class AccountsSearchView(_SearchView):
    """GET /api/v1/accounts/search: accounts matching ``q`` (username start, display name)."""

    required_scopes = {"GET": "read:accounts"}

    reading_feed = PROFILES

    @extend_schema(
        operation_id="accounts_search",
        parameters=[
            Q_PARAMETER,
            OpenApiParameter("limit", {"type": "integer", "minimum": 1}),
            OFFSET_PARAMETER,
            OpenApiParameter("resolve", OpenApiTypes.BOOL, description="Ignored: no federation."),
            OpenApiParameter("following", OpenApiTypes.BOOL, description="Only accounts followed."),
        ],
        responses={200: AccountSerializer(many=True), **errors(400, 401, 403, 429)},
        tags=["accounts"],
    )
    def get(self, request):
        params = request.query_params
        q = _query(params)
        query_bool(params, "resolve")
        query_bool(params, "following")
        limit = query_limit(params, default=ACCOUNTS_LIMIT, maximum=ACCOUNTS_LIMIT * 2)
        found = self.accounts(request, q, limit=limit, offset=_offset(params))
        self.deliver([])  # no statuses, but logged with its query like every search
        entities = self.entities()
        return Response([entities.account(user) for user in found])

"""Bookmarks and favourites: keeping a status for later, and the lists of kept and liked
statuses. The lists are metered like timelines and paged by the bookmark's or like's id (the
``Link`` header carries those ids, as Mastodon's does)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from feeds import bookmarks

from ..pagination import page_request, paginated
from ..permissions import IsAuthenticatedMastodon, TokenHasScope
from ..schemas import PAGE_PARAMETERS, StatusSerializer, errors
from .base import ApiView
from .statuses import _action_schema, _StatusActionView

AUTHENTICATED = [IsAuthenticatedMastodon, TokenHasScope]


class BookmarkView(_StatusActionView):
    """POST /api/v1/statuses/:id/bookmark."""

    required_scopes = {"POST": "write:bookmarks"}

    @_action_schema("statuses_bookmark", "Bookmark the status (a reblog's original). Idempotent.")
    def post(self, request, status_id):
        return super().post(request, status_id)

    def act(self, request, post):
        return bookmarks.bookmark_create(user=request.user, post=post).pk


class UnbookmarkView(_StatusActionView):
    """POST /api/v1/statuses/:id/unbookmark."""

    required_scopes = {"POST": "write:bookmarks"}

    @_action_schema("statuses_unbookmark", "Remove the caller's bookmark. Idempotent.")
    def post(self, request, status_id):
        return super().post(request, status_id)

    def act(self, request, post):
        return bookmarks.bookmark_delete(user=request.user, post=post).pk


class _ListView(ApiView):
    permission_classes = AUTHENTICATED

    def respond(self, request, page, listing):
        delivered = self.deliver(listing.posts)
        response = Response(self.entities().statuses(delivered))
        keys = bookmarks.keys_delivered(listing, delivered)
        return paginated(response, request, ids=keys, page=page, fetched=listing.fetched)


class BookmarksView(_ListView):
    """GET /api/v1/bookmarks: the statuses the caller bookmarked, newest bookmark first."""

    required_scopes = {"GET": "read:bookmarks"}

    @extend_schema(
        operation_id="bookmarks_list",
        parameters=PAGE_PARAMETERS,
        responses={200: StatusSerializer(many=True), **errors(400, 401, 403, 429)},
        tags=["bookmarks"],
    )
    def get(self, request):
        page = page_request(request)
        return self.respond(request, page, bookmarks.bookmarks_page(user=request.user, page=page))


class FavouritesView(_ListView):
    """GET /api/v1/favourites: the statuses the caller liked, newest like first."""

    required_scopes = {"GET": "read:favourites"}

    @extend_schema(
        operation_id="favourites_list",
        parameters=PAGE_PARAMETERS,
        responses={200: StatusSerializer(many=True), **errors(400, 401, 403, 429)},
        tags=["favourites"],
    )
    def get(self, request):
        page = page_request(request)
        return self.respond(request, page, bookmarks.favourites_page(user=request.user, page=page))

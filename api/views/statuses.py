"""Statuses: posting (with Idempotency-Key), reading, deleting, the conversation around a
status, favourites, reblogs and who did them."""

import contextlib
import hashlib

from django.core.cache import cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from access.reading_policy import POSTS
from core.cache_errors import CACHE_ERRORS
from feeds import selectors as feeds
from feeds import services
from feeds.media import media_ids_parse

from ..exceptions import Conflict, StoreUnavailable, Unprocessable
from ..pagination import ACCOUNTS_LIMIT, page_request, paginated
from ..params import FALSE_VALUES, TRUE_VALUES, id_parse, path_id
from ..permissions import IsAuthenticatedMastodon, TokenHasScope
from ..schemas import (
    PAGE_PARAMETERS,
    AccountSerializer,
    ContextSerializer,
    DeletedStatusSerializer,
    StatusCreateFormSerializer,
    StatusCreateSerializer,
    StatusSerializer,
    errors,
)
from ..status_options import unsupported_status_option
from .base import ApiView

AUTHENTICATED = [IsAuthenticatedMastodon, TokenHasScope]
TAGS = ["statuses"]
IDEMPOTENCY_SECONDS = 3600  # Mastodon keeps an Idempotency-Key for an hour
IDEMPOTENCY_PENDING = "pending"


def post_or_404(request, status_id: str, *, shallow: bool = False):
    """The post behind a status id, decorated for the viewer, or 404. ``shallow``: as
    ``feeds.selectors._load``'s (for a caller that renders it through ``statuses`` only)."""
    post = feeds.post_get(post_id=path_id(status_id), viewer=request.user, shallow=shallow)
    if post is None:
        raise NotFound("Record not found")
    return post


def _idempotency_cache_key(user_id: int, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"api:idempotency:{user_id}:{digest}"


class StatusCreateView(ApiView):
    """POST /api/v1/statuses: publish a post or a reply (JSON or form body).

    The same ``Idempotency-Key`` from the same account within an hour returns the status the
    first request created instead of posting twice (clients retry on flaky networks).
    """

    required_scopes = {"POST": "write:statuses"}
    permission_classes = AUTHENTICATED
    request_rate_groups = {"POST": ["post"]}

    @extend_schema(
        operation_id="statuses_create",
        request={
            "application/json": StatusCreateSerializer,
            "application/x-www-form-urlencoded": StatusCreateFormSerializer,
            "multipart/form-data": StatusCreateFormSerializer,
        },
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        responses={200: StatusSerializer, **errors(400, 401, 403, 404, 409, 422, 429, 503)},
        tags=TAGS,
    )
    def post(self, request):
        data = request.data
        text, reply_to, media_ids = self._validated(data)
        # The answer is the caller's own post (free); a reply target is read like any post.
        self.deliver_answer([reply_to] if reply_to is not None else [])
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            post = services.post_create(
                author=request.user, text=text, reply_to=reply_to, media_ids=media_ids
            )
            return self._created(post.pk)
        cache_key = _idempotency_cache_key(request.user.pk, key[:500])
        try:
            claimed = cache.add(cache_key, IDEMPOTENCY_PENDING, IDEMPOTENCY_SECONDS)
            earlier = None if claimed else cache.get(cache_key)
        except CACHE_ERRORS as exc:
            # Posting anyway could publish a client's retry twice: refuse, nothing is stored.
            raise StoreUnavailable() from exc
        if not claimed:
            if earlier == IDEMPOTENCY_PENDING:
                raise Conflict()
            if earlier is not None:
                return self._created(int(earlier))
        try:
            post = services.post_create(
                author=request.user, text=text, reply_to=reply_to, media_ids=media_ids
            )
        except Exception:
            with contextlib.suppress(*CACHE_ERRORS):
                cache.delete(cache_key)  # nothing was posted: the client may retry this key
            raise
        with contextlib.suppress(*CACHE_ERRORS):  # posted; a lost key only weakens a retry
            cache.set(cache_key, post.pk, IDEMPOTENCY_SECONDS)
        return self._created(post.pk)

    def _validated(self, data):
        """The text, reply target and images, refusing what we cannot publish as asked."""
        if not hasattr(data, "get"):
            raise Unprocessable("Send a JSON object or a form with a status field.")
        text = data.get("status")
        for name in ("visibility", "spoiler_text", "language"):
            if name in data and not isinstance(data[name], str):
                raise Unprocessable(f"{name}: must be a string.")
        sensitive = data.get("sensitive")
        # JSON sends true/false; a form can only send words ("true", "1", …).
        words = TRUE_VALUES | FALSE_VALUES
        if "sensitive" in data and not (
            isinstance(sensitive, bool)
            or (isinstance(sensitive, str) and sensitive.lower() in words)
        ):
            raise Unprocessable("sensitive: must be true or false.")
        visibility = data.get("visibility", "public")
        if visibility not in ("public", "unlisted"):
            raise Unprocessable(
                f"visibility: only public posts exist here; {str(visibility)[:20]!r} is not "
                "supported, so nothing was posted."
            )
        if data.get("spoiler_text"):
            raise Unprocessable("spoiler_text: content warnings are not supported yet.")
        if hasattr(data, "getlist"):  # a form: media_ids[]=1&media_ids[]=2 (or media_ids=)
            raw_media = [v for v in data.getlist("media_ids[]") + data.getlist("media_ids") if v]
        else:
            raw_media = data.get("media_ids")
            if raw_media is not None and not isinstance(raw_media, list):
                raise Unprocessable("media_ids: send a list of media ids.")
        media_ids = media_ids_parse(raw_media)  # ValidationError → 422
        if text is None and not media_ids:
            raise Unprocessable("status: write something first: a post cannot be empty.")
        refusal = unsupported_status_option(data)
        if refusal:
            raise Unprocessable(refusal)
        reply_to = None
        raw_reply = data.get("in_reply_to_id")
        if raw_reply not in (None, ""):
            reply_id = id_parse(raw_reply)
            if reply_id is None:
                raise Unprocessable("in_reply_to_id: that is not a status id.")
            reply_to = feeds.post_get(post_id=reply_id, viewer=None)
            if reply_to is None:
                raise NotFound("The status you are replying to does not exist.")
        return ("" if text is None else text), reply_to, media_ids

    def _created(self, post_id: int):
        # The caller's own new post: free of charge (the gate was passed before posting).
        post = feeds.post_get(post_id=post_id, viewer=self.request.user)
        if post is None:
            raise NotFound("Record not found")
        return Response(self.entities().status(post))


class StatusView(ApiView):
    """GET /api/v1/statuses/:id (metered) and DELETE /api/v1/statuses/:id (own posts only)."""

    required_scopes = {"GET": "read:statuses", "DELETE": "write:statuses"}
    reading_feed = POSTS

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [permission() for permission in AUTHENTICATED]
        return super().get_permissions()

    @extend_schema(
        operation_id="statuses_get",
        responses={200: StatusSerializer, **errors(401, 403, 404, 429)},
        tags=TAGS,
    )
    def get(self, request, status_id):
        post = post_or_404(request, status_id)
        delivered = self.deliver([post])
        return Response(self.entities().statuses(delivered)[0])

    @extend_schema(
        operation_id="statuses_delete",
        responses={200: DeletedStatusSerializer, **errors(401, 403, 404, 429)},
        tags=TAGS,
    )
    def delete(self, request, status_id):
        post = post_or_404(request, status_id)
        if post.author_id != request.user.pk:
            raise NotFound("Record not found")  # as Mastodon: no saying whose post it is
        # The caller's own post, returned for "delete and redraft": free, but a repost's
        # original is read like any post (it was a way round the budget), before deleting.
        self.deliver_answer([post])
        data = self.entities().status(post)
        data["text"] = post.text
        services.post_delete(post=post, actor=request.user)
        return Response(data)


class StatusContextView(ApiView):
    """GET /api/v1/statuses/:id/context: ancestors and replies, metered as one page."""

    required_scopes = {"GET": "read:statuses"}
    reading_feed = POSTS

    @extend_schema(
        operation_id="statuses_context",
        responses={200: ContextSerializer, **errors(401, 403, 404, 429)},
        tags=TAGS,
    )
    def get(self, request, status_id):
        # The post itself is not sent: what its thread's shape needs is in a shallow row.
        post = post_or_404(request, status_id, shallow=True)
        thread = feeds.post_thread(post=post, viewer=request.user, shallow=True)
        posts = thread.ancestors + thread.descendants
        delivered = self.deliver(posts) if posts else []
        ancestors = delivered[: len(thread.ancestors)]
        descendants = delivered[len(thread.ancestors) :]
        entities = self.entities()
        return Response(
            {
                "ancestors": entities.statuses(ancestors),
                "descendants": entities.statuses(descendants),
            }
        )


class _StatusActionView(ApiView):
    """A write on someone's status that answers with that status.

    What the answer shows (the status, or a reblog's original) is passed through the read gate
    *before* acting: otherwise favouriting and unfavouriting would read any post for free. A
    refused reader gets 429 and nothing changes. The caller's own posts are free.
    """

    permission_classes = AUTHENTICATED
    operation = ""

    def act(self, request, post):  # pragma: no cover - overridden
        raise NotImplementedError

    def post(self, request, status_id):
        post = post_or_404(request, status_id)
        self.deliver_answer([post.shown])
        result_id = self.act(request, post)
        fresh = feeds.post_get(post_id=result_id, viewer=request.user)
        if fresh is None:
            raise NotFound("Record not found")
        return Response(self.entities().status(fresh))


def _action_schema(operation_id: str, description: str):
    return extend_schema(
        operation_id=operation_id,
        description=description,
        request=None,
        responses={200: StatusSerializer, **errors(401, 403, 404, 429)},
        tags=TAGS,
    )


class FavouriteView(_StatusActionView):
    """POST /api/v1/statuses/:id/favourite."""

    required_scopes = {"POST": "write:favourites"}

    @_action_schema("statuses_favourite", "Like the status (a reblog's original). Idempotent.")
    def post(self, request, status_id):
        return super().post(request, status_id)

    def act(self, request, post):
        return services.like_create(user=request.user, post=post).pk


class UnfavouriteView(_StatusActionView):
    """POST /api/v1/statuses/:id/unfavourite."""

    required_scopes = {"POST": "write:favourites"}

    @_action_schema("statuses_unfavourite", "Remove the caller's like. Idempotent.")
    def post(self, request, status_id):
        return super().post(request, status_id)

    def act(self, request, post):
        return services.like_delete(user=request.user, post=post).pk


class ReblogView(_StatusActionView):
    """POST /api/v1/statuses/:id/reblog: answers with the reblog wrapping the original."""

    required_scopes = {"POST": "write:statuses"}

    @_action_schema("statuses_reblog", "Reblog (repost) the status. Idempotent.")
    def post(self, request, status_id):
        return super().post(request, status_id)

    def act(self, request, post):
        return services.repost_create(user=request.user, post=post).pk


class UnreblogView(_StatusActionView):
    """POST /api/v1/statuses/:id/unreblog: answers with the original status."""

    required_scopes = {"POST": "write:statuses"}

    @_action_schema("statuses_unreblog", "Undo the caller's reblog. Idempotent.")
    def post(self, request, status_id):
        return super().post(request, status_id)

    def act(self, request, post):
        return services.repost_delete(user=request.user, post=post).pk


class FavouritedByView(ApiView):
    """GET /api/v1/statuses/:id/favourited_by: who liked it, paged by the Like's id."""

    required_scopes = {"GET": "read:accounts"}
    reading_feed = POSTS

    @extend_schema(
        operation_id="statuses_favourited_by",
        parameters=PAGE_PARAMETERS,
        responses={200: AccountSerializer(many=True), **errors(400, 401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request, status_id):
        post = post_or_404(request, status_id)
        page = page_request(request, default=ACCOUNTS_LIMIT)
        rows = feeds.likes_page(post=post.shown, page=page)
        entities = self.entities()
        response = Response([entities.account(like.user) for like in rows])
        return paginated(response, request, ids=[r.pk for r in rows], page=page, fetched=len(rows))


class RebloggedByView(ApiView):
    """GET /api/v1/statuses/:id/reblogged_by: who reblogged it, paged by the reblog's id."""

    required_scopes = {"GET": "read:accounts"}
    reading_feed = POSTS

    @extend_schema(
        operation_id="statuses_reblogged_by",
        parameters=PAGE_PARAMETERS,
        responses={200: AccountSerializer(many=True), **errors(400, 401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request, status_id):
        post = post_or_404(request, status_id)
        page = page_request(request, default=ACCOUNTS_LIMIT)
        rows = feeds.reposts_page(post=post.shown, page=page)
        entities = self.entities()
        response = Response([entities.account(repost.author) for repost in rows])
        return paginated(response, request, ids=[r.pk for r in rows], page=page, fetched=len(rows))

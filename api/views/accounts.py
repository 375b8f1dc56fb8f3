"""Accounts: the caller, profiles, their statuses, followers, following and follow actions."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.response import Response

from access.reading_policy import PROFILES
from accounts.ai_training import ai_training_choice_validate, user_ai_training_set
from accounts.directory import account_get, account_ids_existing
from accounts.images import ImageRefused
from accounts.profiles import profile_update
from accounts.selectors import user_get_by_username
from feeds import selectors as feeds
from feeds import services

from ..exceptions import PayloadTooLarge, Unprocessable
from ..pagination import ACCOUNTS_LIMIT, page_request, paginated
from ..params import ID_SCHEMA, id_parse, path_id, query_bool
from ..permissions import IsAuthenticatedMastodon, TokenHasScope
from ..schemas import (
    PAGE_PARAMETERS,
    AccountSerializer,
    CredentialAccountSerializer,
    RelationshipSerializer,
    StatusSerializer,
    UpdateCredentialsFormSerializer,
    UpdateCredentialsSerializer,
    errors,
)
from .base import ApiView

RELATIONSHIPS_MAX = 40
AUTHENTICATED = [IsAuthenticatedMastodon, TokenHasScope]
TAGS = ["accounts"]


def account_or_404(account_id: str):
    user = account_get(account_id=path_id(account_id))
    if user is None:
        raise NotFound("Record not found")
    return user


class VerifyCredentialsView(ApiView):
    """GET /api/v1/accounts/verify_credentials: the caller's own account."""

    required_scopes = {"GET": ("read:accounts", "profile")}
    permission_classes = AUTHENTICATED

    @extend_schema(
        operation_id="accounts_verify_credentials",
        responses={200: CredentialAccountSerializer, **errors(401, 403)},
        tags=TAGS,
    )
    def get(self, request):
        return Response(self.entities().credential_account(request.user))


class AccountLookupView(ApiView):
    """GET /api/v1/accounts/lookup?acct=: an account by its username."""

    required_scopes = {"GET": "read:accounts"}
    reading_feed = PROFILES

    @extend_schema(
        operation_id="accounts_lookup",
        parameters=[
            # "alice" or "@alice@host": anything with a character that is not "@" or blank.
            OpenApiParameter("acct", {"type": "string", "pattern": r"[^@\s]"}, required=True)
        ],
        responses={200: AccountSerializer, **errors(400, 401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request):
        acct = request.query_params.get("acct", "").strip().lstrip("@")
        if not acct:
            raise ValidationError("acct: give a username, e.g. ?acct=alice")
        username, _, domain = acct.partition("@")
        if domain and domain.lower() != request.get_host().lower():
            raise NotFound("Record not found")  # we hold no accounts of other servers
        user = user_get_by_username(username=username)
        if user is None:
            raise NotFound("Record not found")
        return Response(self.entities().account(user))


class AccountView(ApiView):
    """GET /api/v1/accounts/:id: one account's public profile."""

    required_scopes = {"GET": "read:accounts"}
    reading_feed = PROFILES

    @extend_schema(
        operation_id="accounts_get",
        responses={200: AccountSerializer, **errors(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request, account_id):
        return Response(self.entities().account(account_or_404(account_id)))


class AccountStatusesView(ApiView):
    """GET /api/v1/accounts/:id/statuses: one account's posts, replies and reposts."""

    required_scopes = {"GET": "read:statuses"}
    reading_feed = PROFILES

    @extend_schema(
        operation_id="accounts_statuses",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("exclude_replies", OpenApiTypes.BOOL),
            OpenApiParameter("exclude_reblogs", OpenApiTypes.BOOL),
            OpenApiParameter("only_media", OpenApiTypes.BOOL, description="Always empty."),
            OpenApiParameter("pinned", OpenApiTypes.BOOL, description="Always empty."),
        ],
        responses={200: StatusSerializer(many=True), **errors(400, 401, 403, 404, 429)},
        tags=TAGS,
    )
    def get(self, request, account_id):
        author_id = path_id(account_id)
        params = request.query_params
        try:
            page = page_request(request)
            # Every flag is read (and a bad one refused) before any answer is chosen.
            flags = {
                name: query_bool(params, name)
                for name in ("exclude_replies", "exclude_reblogs", "only_media", "pinned")
            }
        except ValidationError:
            account_or_404(account_id)  # a missing account is a 404 whatever else is wrong
            raise
        if flags["pinned"] or flags["only_media"]:
            account_or_404(account_id)
            return Response([])  # we have neither pins nor media
        posts = feeds.timeline_profile(
            author_id=author_id,
            viewer=request.user,
            page=page,
            exclude_replies=flags["exclude_replies"],
            exclude_reposts=flags["exclude_reblogs"],
            shallow=True,
        )
        if not posts:
            # Only an active account's posts are visible, so only an empty page needs the
            # account looked up (one query fewer on every page with a post).
            account_or_404(account_id)
        delivered = self.deliver(posts)
        response = Response(self.entities().statuses(delivered))
        return paginated(
            response, request, ids=[p.pk for p in delivered], page=page, fetched=len(posts)
        )


class _AccountListView(ApiView):
    """A page of accounts behind rows (Follow, Like, repost) whose ids drive pagination."""

    reading_feed = PROFILES

    def respond(self, request, rows, page, person):
        entities = self.entities()
        response = Response([entities.account(person(row)) for row in rows])
        return paginated(response, request, ids=[r.pk for r in rows], page=page, fetched=len(rows))


class FollowersView(_AccountListView):
    """GET /api/v1/accounts/:id/followers: who follows the account, newest first."""

    required_scopes = {"GET": "read:accounts"}

    @extend_schema(
        operation_id="accounts_followers",
        parameters=PAGE_PARAMETERS,
        responses={200: AccountSerializer(many=True), **errors(400, 401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request, account_id):
        user = account_or_404(account_id)
        page = page_request(request, default=ACCOUNTS_LIMIT)
        rows = feeds.followers_page(user=user, page=page)
        return self.respond(request, rows, page, lambda follow: follow.follower)


class FollowingView(_AccountListView):
    """GET /api/v1/accounts/:id/following: whom the account follows, newest first."""

    required_scopes = {"GET": "read:accounts"}

    @extend_schema(
        operation_id="accounts_following",
        parameters=PAGE_PARAMETERS,
        responses={200: AccountSerializer(many=True), **errors(400, 401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request, account_id):
        user = account_or_404(account_id)
        page = page_request(request, default=ACCOUNTS_LIMIT)
        rows = feeds.following_page(user=user, page=page)
        return self.respond(request, rows, page, lambda follow: follow.followee)


class FollowView(ApiView):
    """POST /api/v1/accounts/:id/follow: the caller follows the account."""

    required_scopes = {"POST": "write:follows"}
    permission_classes = AUTHENTICATED
    request_rate_groups = {"POST": ["follow"]}

    @extend_schema(
        operation_id="accounts_follow",
        request=None,
        responses={200: RelationshipSerializer, **errors(401, 403, 404, 422)},
        tags=TAGS,
    )
    def post(self, request, account_id):
        user = account_or_404(account_id)
        services.follow_create(follower=request.user, followee=user)
        flags = feeds.relationships(viewer=request.user, user_ids=[user.pk])[user.pk]
        return Response(self.entities().relationship(user.pk, flags))


class UnfollowView(ApiView):
    """POST /api/v1/accounts/:id/unfollow: the caller stops following the account."""

    required_scopes = {"POST": "write:follows"}
    permission_classes = AUTHENTICATED

    @extend_schema(
        operation_id="accounts_unfollow",
        request=None,
        responses={200: RelationshipSerializer, **errors(401, 403, 404)},
        tags=TAGS,
    )
    def post(self, request, account_id):
        user = account_or_404(account_id)
        services.follow_delete(follower=request.user, followee=user)
        flags = feeds.relationships(viewer=request.user, user_ids=[user.pk])[user.pk]
        return Response(self.entities().relationship(user.pk, flags))


class RelationshipsView(ApiView):
    """GET /api/v1/accounts/relationships?id[]=: the caller's relationship to each account."""

    required_scopes = {"GET": "read:follows"}
    permission_classes = AUTHENTICATED

    @extend_schema(
        operation_id="accounts_relationships",
        parameters=[
            OpenApiParameter(
                "id[]",
                {"type": "array", "items": ID_SCHEMA, "maxItems": RELATIONSHIPS_MAX},
                description=f"At most {RELATIONSHIPS_MAX}.",
            )
        ],
        responses={200: RelationshipSerializer(many=True), **errors(400, 401, 403)},
        tags=TAGS,
    )
    def get(self, request):
        raw = request.query_params.getlist("id[]") + request.query_params.getlist("id")
        if len(raw) > RELATIONSHIPS_MAX:
            raise ValidationError(f"Ask for at most {RELATIONSHIPS_MAX} accounts at a time.")
        ids = []
        for value in raw:
            number = id_parse(value)
            if number is None:
                raise ValidationError(f"id[]: {value[:30]!r} is not an account id.")
            if number not in ids:
                ids.append(number)
        existing = account_ids_existing(account_ids=ids)
        ids = [i for i in ids if i in existing]
        flags = feeds.relationships(viewer=request.user, user_ids=ids)
        entities = self.entities()
        return Response([entities.relationship(i, flags[i]) for i in ids])


class UpdateCredentialsView(ApiView):
    """PATCH /api/v1/accounts/update_credentials: the caller's display name, note (bio),
    avatar and header (multipart) and, our extension, ``ai_training`` ("allow", "disallow" or
    "default"), all or nothing. Other Mastodon fields are accepted and
    ignored (there are no locked accounts, bots or profile fields here)."""

    required_scopes = {"PATCH": "write:accounts"}

    permission_classes = AUTHENTICATED

    @extend_schema(
        operation_id="accounts_update_credentials",
        # Forms are accepted too (Mastodon clients send them) but not documented: schemathesis's
        # in-process transport drops form fields sent as lists and then judges the answer by
        # fields the server never received (the same reason multipart is not fuzzed).
        request={
            "application/json": UpdateCredentialsSerializer,
            "multipart/form-data": UpdateCredentialsFormSerializer,
        },
        responses={200: CredentialAccountSerializer, **errors(400, 401, 403, 413, 422)},
        tags=TAGS,
    )
    def patch(self, request):
        data = request.data
        if not hasattr(data, "get"):
            raise ParseError(
                "Send the fields as a JSON object or a form: display_name, note, avatar, "
                "header or ai_training."
            )
        fields = {}
        for name, target in (("display_name", "display_name"), ("note", "bio")):
            if name in data:
                value = data.get(name)
                if not isinstance(value, str):
                    raise Unprocessable(f"{name}: must be a string.")
                fields[target] = value
        for name in ("avatar", "header"):
            upload = request.FILES.get(name)
            if upload is not None:
                fields[name] = upload
            elif name in data and data.get(name) not in ("", None):
                raise Unprocessable(f"{name}: send the image as a file (multipart/form-data).")
        choice = None
        if "ai_training" in data:
            choice = str(data.get("ai_training", "")).strip().lower()
        try:
            if choice is not None:  # before profile_update stores any image
                ai_training_choice_validate(choice=choice)
            with transaction.atomic():  # the profile and the AI-training choice, or neither
                user = profile_update(user=request.user, **fields)
                if choice is not None:
                    user_ai_training_set(user=user, choice=choice)
        except ImageRefused as exc:
            if exc.status == 413:
                raise PayloadTooLarge(" ".join(exc.messages)) from exc
            raise Unprocessable(" ".join(exc.messages)) from exc
        except DjangoValidationError as exc:
            messages = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            name, problems = next(iter(messages.items()))
            label = {"bio": "note"}.get(name, name)
            raise Unprocessable(
                f"{label}: {' '.join(problems)}" if label else " ".join(problems)
            ) from exc
        return Response(self.entities().credential_account(user))

"""The API's documented shapes for the OpenAPI schema (drf-spectacular).

These serializers only describe; responses are built by ``api/entities.py``. The test suite
validates real responses against the generated schema, so the two cannot drift apart unseen.
"""

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema_field,
)
from rest_framework import serializers

from accounts.ai_training import CHOICES as AI_TRAINING_CHOICES

from .params import CURSOR_SCHEMA, FALSE_VALUES, MAX_ID, TRUE_VALUES

# Characters post_text_clean refuses: control characters other than tab, newline and CR.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# A post: no refused control characters and at least one character that is not whitespace.
STATUS_TEXT_PATTERN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"


@extend_schema_field({"type": "null"})
class NullField(serializers.Field):
    """A field that is always null here (e.g. ``card``, ``poll``)."""


@extend_schema_field({"type": "array", "maxItems": 0, "items": {}})
class EmptyListField(serializers.Field):
    """A list we do not fill yet (media, mentions, tags, emojis, fields): always []."""


class ErrorSerializer(serializers.Serializer):
    """Mastodon's error body."""

    error = serializers.CharField()


class ReadBudgetErrorSerializer(serializers.Serializer):
    """The 429 body when the daily read budget is spent: Mastodon's error plus machine fields."""

    error = serializers.CharField()
    code = serializers.ChoiceField(choices=["read_budget_exhausted", "read_budget_unavailable"])
    limit = serializers.IntegerField(allow_null=True)
    remaining = serializers.IntegerField(allow_null=True)
    reset_at = serializers.DateTimeField()
    tier = serializers.CharField()
    upgrade_url = serializers.CharField()


class RateLimitedErrorSerializer(serializers.Serializer):
    """The 429 body when a request-rate limit is broken (too many requests in a window)."""

    error = serializers.CharField()
    code = serializers.ChoiceField(choices=["rate_limited"])
    limit = serializers.IntegerField(min_value=0)
    remaining = serializers.IntegerField(min_value=0, max_value=0)
    reset_at = serializers.DateTimeField()
    policy = serializers.CharField(help_text="The request-rate group, e.g. api, post, paging.")


class ReadBudgetPolicySerializer(serializers.Serializer):
    """The caller's daily read budget now (read without charging)."""

    policy = serializers.ChoiceField(choices=["daily-reads"])
    tier = serializers.CharField()
    limit = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    used = serializers.IntegerField(allow_null=True, help_text="null: the ledger is unreachable")
    remaining = serializers.IntegerField(allow_null=True)
    window = serializers.IntegerField(help_text="Seconds (the UTC day).")
    reset_at = serializers.DateTimeField()
    enforcement = serializers.ChoiceField(choices=["enforce", "dry-run", "off"])


class RequestLimitSerializer(serializers.Serializer):
    """One request-rate rule that applies to the caller, and their use of it."""

    policy = serializers.CharField(help_text="The group: signup, login, post, follow, api, …")
    key = serializers.ChoiceField(
        choices=["ip", "network", "anon_ip", "user", "token", "principal", "username", "mailbox"]
    )
    rate = serializers.CharField(help_text='django-ratelimit\'s rate, e.g. "300/5m".')
    limit = serializers.IntegerField(min_value=1)
    window = serializers.IntegerField(min_value=1, help_text="Seconds.")
    used = serializers.IntegerField(min_value=0)
    remaining = serializers.IntegerField(min_value=0)
    reset_at = serializers.DateTimeField()


class LicenceQuotaSerializer(serializers.Serializer):
    """A data licence's monthly quota (licensed lane): posts charged once per UTC day."""

    policy = serializers.CharField()
    plan = serializers.CharField()
    status = serializers.CharField()
    limit = serializers.IntegerField(min_value=0)
    used = serializers.IntegerField(min_value=0)
    remaining = serializers.IntegerField(min_value=0)
    window = serializers.IntegerField()
    reset_at = serializers.DateTimeField()


class RateLimitsSerializer(serializers.Serializer):
    """GET /api/v1/rate_limits: the caller's read budget and request-rate limits."""

    read_budget = ReadBudgetPolicySerializer()
    request_limits = RequestLimitSerializer(many=True)
    licence_quota = LicenceQuotaSerializer(
        required=False, help_text="Only for a token created for a data licence."
    )


CONTENT_USAGE_HELP = (
    "Extension: whether the author allows AI training of their posts, in the IETF aipref "
    'vocabulary ("train-ai=y" or "train-ai=n"), as the Content-Usage header says.'
)


class AccountSerializer(serializers.Serializer):
    """Mastodon's Account, plus ``verified``: the account has paid verification (the badge)."""

    id = serializers.CharField()
    username = serializers.CharField()
    acct = serializers.CharField()
    display_name = serializers.CharField(allow_blank=True)
    locked = serializers.BooleanField()
    bot = serializers.BooleanField()
    discoverable = serializers.BooleanField()
    group = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    note = serializers.CharField(allow_blank=True, help_text="HTML")
    url = serializers.URLField()
    uri = serializers.URLField()
    avatar = serializers.URLField()
    avatar_static = serializers.URLField()
    header = serializers.URLField()
    header_static = serializers.URLField()
    followers_count = serializers.IntegerField(min_value=0)
    following_count = serializers.IntegerField(min_value=0)
    statuses_count = serializers.IntegerField(min_value=0)
    last_status_at = NullField()
    emojis = EmptyListField()
    fields = EmptyListField()
    verified = serializers.BooleanField(help_text="Extension: the paid verification badge.")
    content_usage = serializers.ChoiceField(
        choices=["train-ai=y", "train-ai=n"], help_text=CONTENT_USAGE_HELP
    )


class AccountSourceSerializer(serializers.Serializer):
    privacy = serializers.CharField()
    sensitive = serializers.BooleanField()
    language = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)
    fields = EmptyListField()
    follow_requests_count = serializers.IntegerField()
    ai_training = serializers.ChoiceField(
        choices=["allow", "disallow", "default"],
        help_text="Extension: the caller's own AI-training choice (default: the site's).",
    )


class CredentialAccountSerializer(AccountSerializer):
    """The caller's own Account, with ``source``."""

    source = AccountSourceSerializer()


class MentionSerializer(serializers.Serializer):
    """Mastodon's Status::Mention: a local account the status mentions."""

    id = serializers.CharField()
    username = serializers.CharField()
    url = serializers.URLField()
    acct = serializers.CharField()


class StatusTagSerializer(serializers.Serializer):
    """Mastodon's Status::Tag: a hashtag of the status (normalised name, timeline URL)."""

    name = serializers.CharField()
    url = serializers.URLField()


class MediaSizeSerializer(serializers.Serializer):
    width = serializers.IntegerField(min_value=1)
    height = serializers.IntegerField(min_value=1)
    size = serializers.CharField(help_text='"WIDTHxHEIGHT"')
    aspect = serializers.FloatField()


class MediaFocusSerializer(serializers.Serializer):
    x = serializers.FloatField(min_value=-1.0, max_value=1.0)
    y = serializers.FloatField(min_value=-1.0, max_value=1.0)


class MediaMetaSerializer(serializers.Serializer):
    original = MediaSizeSerializer()
    small = MediaSizeSerializer()
    focus = MediaFocusSerializer()


class MediaAttachmentSerializer(serializers.Serializer):
    """Mastodon's MediaAttachment: an image (re-encoded, without metadata). ``url`` and
    ``preview_url`` are signed and expire within two hours: fetch the status again for new
    ones."""

    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["image"])
    url = serializers.URLField()
    preview_url = serializers.URLField()
    remote_url = NullField()
    preview_remote_url = NullField()
    text_url = NullField()
    meta = MediaMetaSerializer()
    description = serializers.CharField(allow_null=True, max_length=1500)
    blurhash = serializers.CharField(allow_null=True)


class MediaCreateSerializer(serializers.Serializer):
    """The multipart body of POST /api/v2/media (and /api/v1/media)."""

    file = serializers.FileField(help_text="JPEG, PNG, WebP or GIF (first frame), at most 10 MB")
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=1500, help_text="Alt text"
    )
    focus = serializers.RegexField(
        r"^-?[01](\.[0-9]+)?,-?[01](\.[0-9]+)?$",
        required=False,
        allow_blank=True,  # empty: the centre, as when absent
        help_text='Focal point "x,y", each from -1.0 to 1.0',
    )


class MediaUpdateSerializer(serializers.Serializer):
    """The body of PUT /api/v1/media/:id (before the image is posted)."""

    description = serializers.CharField(required=False, allow_blank=True, max_length=1500)
    focus = serializers.RegexField(
        r"^-?[01](\.[0-9]+)?,-?[01](\.[0-9]+)?$", required=False, allow_blank=True
    )


class _StatusFields(serializers.Serializer):
    id = serializers.CharField()
    created_at = serializers.DateTimeField()
    edited_at = NullField()
    in_reply_to_id = serializers.CharField(allow_null=True)
    in_reply_to_account_id = serializers.CharField(allow_null=True)
    sensitive = serializers.BooleanField()
    spoiler_text = serializers.CharField(allow_blank=True)
    visibility = serializers.ChoiceField(choices=["public"])
    language = serializers.CharField(allow_null=True)
    uri = serializers.URLField()
    url = serializers.URLField()
    replies_count = serializers.IntegerField(min_value=0)
    reblogs_count = serializers.IntegerField(min_value=0)
    favourites_count = serializers.IntegerField(min_value=0)
    favourited = serializers.BooleanField()
    reblogged = serializers.BooleanField()
    muted = serializers.BooleanField()
    bookmarked = serializers.BooleanField()
    pinned = serializers.BooleanField()
    content = serializers.CharField(allow_blank=True, help_text="HTML")
    application = NullField()
    account = AccountSerializer()
    media_attachments = MediaAttachmentSerializer(many=True)
    mentions = MentionSerializer(many=True)
    tags = StatusTagSerializer(many=True)
    emojis = EmptyListField()
    card = NullField()
    poll = NullField()
    content_usage = serializers.ChoiceField(
        choices=["train-ai=y", "train-ai=n"], help_text=CONTENT_USAGE_HELP
    )


class RebloggedStatusSerializer(_StatusFields):
    """A Status inside another's ``reblog``: its own ``reblog`` is always null."""

    reblog = NullField()


class StatusSerializer(_StatusFields):
    """Mastodon's Status. A repost has empty ``content`` and the original in ``reblog``."""

    reblog = RebloggedStatusSerializer(allow_null=True)


class DeletedStatusSerializer(StatusSerializer):
    """The deleted Status, with its source ``text`` (for "delete and redraft")."""

    text = serializers.CharField()


class ContextSerializer(serializers.Serializer):
    """The conversation around a status: ancestors (oldest first) and replies (depth first)."""

    ancestors = StatusSerializer(many=True)
    descendants = StatusSerializer(many=True)


class NotificationSerializer(serializers.Serializer):
    """Mastodon's Notification. A reply notifies as ``mention``; ``status`` is null for a
    follow, otherwise the status that passed the read gate."""

    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["mention", "reblog", "favourite", "follow"])
    group_key = serializers.CharField()
    created_at = serializers.DateTimeField()
    account = AccountSerializer()
    status = StatusSerializer(allow_null=True)


class UnreadCountSerializer(serializers.Serializer):
    """How many notifications arrived after the notifications marker (capped at 100)."""

    count = serializers.IntegerField(min_value=0)


class MarkerSerializer(serializers.Serializer):
    """Mastodon's Marker: a read position."""

    last_read_id = serializers.CharField()
    version = serializers.IntegerField(min_value=0)
    updated_at = serializers.DateTimeField()


class MarkersSerializer(serializers.Serializer):
    """The caller's markers, by timeline (a timeline never marked is left out)."""

    home = MarkerSerializer(required=False)
    notifications = MarkerSerializer(required=False)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": r"^[1-9][0-9]{0,17}$"},
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        ]
    }
)
class MarkerIdField(serializers.Field):
    """``last_read_id``: an id, as a string (Mastodon's way) or a JSON integer."""


class _MarkerUpdateSerializer(serializers.Serializer):
    last_read_id = MarkerIdField()


class MarkersUpdateSerializer(serializers.Serializer):
    """The body of POST /api/v1/markers: at least one timeline's new position."""

    home = _MarkerUpdateSerializer(required=False)
    notifications = _MarkerUpdateSerializer(required=False)


class TagSerializer(serializers.Serializer):
    """Mastodon's Tag (``history`` is always empty: usage is not kept per day here)."""

    name = serializers.CharField()
    url = serializers.URLField()
    history = EmptyListField()


class SearchResultsSerializer(serializers.Serializer):
    """Mastodon's Search: accounts, statuses (through the read gate) and hashtags."""

    accounts = AccountSerializer(many=True)
    statuses = StatusSerializer(many=True)
    hashtags = TagSerializer(many=True)


class RelationshipSerializer(serializers.Serializer):
    """Mastodon's Relationship between the caller and one account."""

    id = serializers.CharField()
    following = serializers.BooleanField()
    showing_reblogs = serializers.BooleanField()
    notifying = serializers.BooleanField()
    languages = NullField()
    followed_by = serializers.BooleanField()
    blocking = serializers.BooleanField()
    blocked_by = serializers.BooleanField()
    muting = serializers.BooleanField()
    muting_notifications = serializers.BooleanField()
    requested = serializers.BooleanField()
    requested_by = serializers.BooleanField()
    domain_blocking = serializers.BooleanField()
    endorsed = serializers.BooleanField()
    note = serializers.CharField(allow_blank=True)


class TierSerializer(serializers.Serializer):
    """A reading tier (extension): its daily read budget in distinct posts (null: unlimited)."""

    slug = serializers.CharField()
    name = serializers.CharField()
    daily_read_budget = serializers.IntegerField(allow_null=True)


@extend_schema_field(
    {
        "oneOf": [
            CURSOR_SCHEMA,  # empty: not a reply
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            {"type": "null"},  # not a reply, as some JSON clients say it
        ]
    }
)
class ReplyToField(serializers.Field):
    """``in_reply_to_id``: a status id, as a string (Mastodon's way) or a JSON integer."""


@extend_schema_field(
    {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
)
class RedirectUrisField(serializers.Field):
    """``redirect_uris``: one URI (or several separated by spaces), or a list of them."""


@extend_schema_field(
    {"oneOf": [{"type": "boolean"}, {"type": "string", "enum": sorted(TRUE_VALUES | FALSE_VALUES)}]}
)
class SensitiveField(serializers.Field):
    """``sensitive``: a JSON boolean, or the words a form sends ("true", "0", …)."""


class StatusCreateSerializer(serializers.Serializer):
    """The body of POST /api/v1/statuses (JSON or form)."""

    status = serializers.RegexField(STATUS_TEXT_PATTERN, max_length=500)
    in_reply_to_id = ReplyToField(required=False)
    visibility = serializers.ChoiceField(choices=["public", "unlisted"], required=False)
    sensitive = SensitiveField(required=False)
    spoiler_text = serializers.CharField(required=False, allow_blank=True, max_length=0)
    language = serializers.CharField(required=False, allow_blank=True)  # accepted, ignored
    media_ids = serializers.ListField(
        child=serializers.RegexField(r"^[1-9][0-9]{0,17}$"),
        required=False,
        max_length=4,
        help_text="Ids of the caller's uploads (POST /api/v2/media), at most 4, in order",
    )


class StatusCreateFormSerializer(StatusCreateSerializer):
    """The same body as a form: every value is text, so a reply id is digits (or empty)."""

    # Digits only: empty is allow_blank's own oneOf branch (a pattern that took "" as well
    # would make the empty value match both branches, which the schema calls invalid).
    in_reply_to_id = serializers.RegexField(r"^[1-9][0-9]{0,17}$", required=False, allow_blank=True)


class UpdateCredentialsSerializer(serializers.Serializer):
    """The body of PATCH /api/v1/accounts/update_credentials (JSON or form): text fields."""

    # No control characters (other than tab and newline) and no lone surrogates: refused.
    # "+", not "*": blank is the schema's other branch (allow_blank), and a oneOf whose two
    # branches both take "" would call the empty value invalid.
    display_name = serializers.RegexField(
        rf"^[^{_CONTROL}]+$", required=False, allow_blank=True, max_length=50
    )
    note = serializers.RegexField(
        rf"^[^{_CONTROL}]+$", required=False, allow_blank=True, max_length=160
    )
    ai_training = serializers.ChoiceField(
        choices=list(AI_TRAINING_CHOICES),
        required=False,
        help_text=(
            "Extension: may your posts be used to train AI models? "
            '"default" follows the server\'s default. Takes effect on the next response.'
        ),
    )


class UpdateCredentialsFormSerializer(UpdateCredentialsSerializer):
    """The same as multipart, with the images (JPEG, PNG, WebP or GIF, at most 2 MB)."""

    avatar = serializers.FileField(required=False)
    header = serializers.FileField(required=False)


class AppCreateSerializer(serializers.Serializer):
    client_name = serializers.RegexField(r"\S")  # anything but blank
    redirect_uris = RedirectUrisField(required=False)
    scopes = serializers.CharField(required=False, allow_blank=True)
    website = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class ApplicationSerializer(serializers.Serializer):
    """Mastodon's Application. We have no OAuth: use a personal access token instead."""

    id = serializers.CharField(required=False)
    name = serializers.CharField()
    website = serializers.CharField(allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField())
    redirect_uri = serializers.CharField(required=False)
    redirect_uris = serializers.ListField(child=serializers.CharField(), required=False)
    client_id = serializers.CharField(required=False)
    client_secret = serializers.CharField(required=False)
    vapid_key = serializers.CharField(allow_blank=True)


# --- Reusable parameters and responses --------------------------------------------------------

PAGE_PARAMETERS = [
    OpenApiParameter("max_id", CURSOR_SCHEMA, description="Rows older than this id."),
    OpenApiParameter("since_id", CURSOR_SCHEMA, description="Rows newer than this id."),
    OpenApiParameter("min_id", CURSOR_SCHEMA, description="Rows just newer than this id."),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1},
        description="Page size (default 20, at most 40; 40/80 for accounts).",
    ),
]

_ERROR_TEXT = {
    400: "Malformed parameters or body.",
    401: "Missing, unknown or revoked access token.",
    403: "The token lacks the scope (read/write), or the action is not allowed.",
    404: "Record not found.",
    406: "The Accept header asks for a format this endpoint cannot give.",
    409: "The same Idempotency-Key is still being processed.",
    413: "An uploaded image is too large (bytes or pixels).",
    422: "The content was refused (e.g. empty or too long).",
    503: "The idempotency store is briefly unreachable; nothing was posted, retry later.",
}


def errors(*codes: int) -> dict:
    """Documented error responses for ``extend_schema(responses=…)``."""
    result: dict = {}
    for code in codes:
        if code == 429:
            result[429] = OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="TooManyRequests",
                    serializers=[ReadBudgetErrorSerializer, RateLimitedErrorSerializer],
                    resource_type_field_name=None,
                ),
                description=(
                    "The daily read budget is spent (code read_budget_exhausted), or a "
                    "request-rate limit is broken (code rate_limited); Retry-After says when "
                    "to ask again."
                ),
            )
        else:
            result[code] = OpenApiResponse(ErrorSerializer, description=_ERROR_TEXT[code])
    return result

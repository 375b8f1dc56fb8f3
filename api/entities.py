"""Mastodon's Account, Status and Relationship entities, built as plain dicts.

Built by hand rather than with DRF serializers: a timeline page is serialized on every read,
and plain dicts cost a fraction of a serializer's per-field overhead. The documented shapes
live in ``api/schemas.py``; the test suite validates these dicts against them.

Statuses are built only from posts the feeds selectors return (authors, reply targets and
reposted originals joined, the viewer's likes and reposts annotated), so building a page
costs no query. The viewer-independent part of each status is rendered once and cached
(``core.render_cache``, keyed by every input it reads, including the request's scheme and
host) as its encoded JSON split where the per-viewer fields go; those and whatever must be
fresh per request (``media_attachments``) are encoded into it on every request
(``EntityBuilder.statuses``), so a page is joined from cached bytes, never decoded and
re-encoded. ``status`` gives one status as a dict, decoded from the same bytes.

The timelines and account statuses pass *shallow* posts (``feeds.selectors._load(shallow=
True)``, PostgreSQL): no text or counts, but a digest the database made of the row versions
their status is rendered from, which is the cache key; the statuses the cache lacks are
described in full by one statement (``feeds.selectors.posts_described``) and rendered from
that.
"""

from datetime import UTC, datetime
from functools import partial
from urllib.parse import quote

import orjson
from django.core.files.storage import default_storage
from django.templatetags.static import static

from access.delivered import post_delivered_check
from accounts.ai_training import ai_training_allowed, ai_training_choice, site_default_allowed
from core.render_cache import Unshared, render_key, rendered_many
from core.urls import reverse_once
from feeds.media_urls import media_url
from feeds.references import hashtag_names
from feeds.selectors import posts_described
from feeds.text import render_post_html

from .renderers import EncodedJSON

AVATAR_PATH = "api/avatar.png"
HEADER_PATH = "api/header.png"
# Bump when the shape of a cached status changes, so a deploy never serves the old shape.
STATUS_RENDERING = "status-v2"
# The per-viewer fields of a status (``EntityBuilder._viewer_fields``), by their place.
_POST_HOLES = frozenset({"favourited", "reblogged", "bookmarked", "media_attachments"})
_REPOST_HOLES = frozenset(
    {"bookmarked", "media_attachments"} | {f"reblog.{name}" for name in _POST_HOLES}
)
_ENCODED = {True: b"true", False: b"false"}


# Where a per-viewer value goes, while a template is encoded: a NUL byte, which orjson never
# writes itself (it escapes control characters in strings), so the output splits there.
_HOLE = orjson.Fragment(b"\x00")


def _template(entity: dict, holes: frozenset) -> tuple:
    """``entity`` as orjson encodes it, split at the values of ``holes`` (their places,
    ``reblog.favourited`` for a nested one): ``(segments, places)``, the encoded text
    around each hole and the holes in order. Filled (``_template_fill``) it is exactly
    ``orjson.dumps`` of the entity with those values in place."""
    places: list[str] = []
    nested = {hole.rpartition(".")[0] for hole in holes if "." in hole}

    def marked(value: dict, prefix: str) -> dict:
        out = {}
        for name, item in value.items():
            place = prefix + name
            if place in holes:
                out[name] = _HOLE
                places.append(place)
            elif place in nested and type(item) is dict:
                out[name] = marked(item, f"{place}.")
            else:
                out[name] = item
        return out

    segments = orjson.dumps(marked(entity, "")).split(b"\x00")
    if len(segments) != len(places) + 1:  # pragma: no cover - orjson escapes a NUL
        raise ValueError("a status encoded with a NUL byte")
    return tuple(segments), tuple(places)


def _template_fill(template: tuple, values: dict) -> bytes:
    """A status's bytes: its cached template with ``values`` (by place) encoded into it."""
    segments, places = template
    out = [segments[0]]
    for place, segment in zip(places, segments[1:], strict=True):
        value = values[place]
        out.append(_ENCODED[value] if type(value) is bool else orjson.dumps(value))
        out.append(segment)
    return b"".join(out)


def iso(moment: datetime | None) -> str | None:
    """A time as Mastodon writes it: 2026-11-26T12:00:00.000Z."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def content_usage(author) -> str:
    """Extension: the author's AI-training preference in the IETF aipref vocabulary
    (``train-ai=y`` or ``train-ai=n``), the same words as the ``Content-Usage`` header."""
    return f"train-ai={'y' if ai_training_allowed(author) else 'n'}"


class EntityBuilder:
    """Builds entities for one request: absolute URLs need the request's scheme and host."""

    # Stand-ins reversed once per request: reverse() per status was a fifth of a page's time.
    _POST_MARK = "4242424242"
    _USER_MARK = "MARKUSERNAME"

    def __init__(self, request):
        self.request = request
        self._avatar = request.build_absolute_uri(static(AVATAR_PATH))
        self._header = request.build_absolute_uri(static(HEADER_PATH))
        post_path = reverse_once("feeds:post", self._POST_MARK)
        profile_path = reverse_once("feeds:profile", self._USER_MARK)
        self._post_url = self.url(post_path).split(self._POST_MARK)
        self._profile_url = self.url(profile_path).split(self._USER_MARK)
        self._accounts: dict[tuple, dict] = {}
        self._base = self.url("/").rstrip("/")

    def url(self, path: str) -> str:
        return self.request.build_absolute_uri(path)

    def post_url(self, post_id: int) -> str:
        return f"{self._post_url[0]}{post_id}{self._post_url[1]}"

    def account(self, user) -> dict:
        """Mastodon's Account, plus our ``verified`` (the paid badge).

        Built once per author per request (a page often shows one author many times); callers
        get their own copy so adding fields to one never changes another.
        """
        key = (
            user.pk,
            user.followers_count,
            user.following_count,
            user.posts_count,
            user.display_name,
            user.bio,
            user.avatar,
            user.header,
        )
        cached = self._accounts.get(key)
        if cached is None:
            cached = self._accounts[key] = self._account(user)
        return dict(cached)

    def _account(self, user) -> dict:
        url = f"{self._profile_url[0]}{user.username}{self._profile_url[1]}"
        avatar = self.url(default_storage.url(user.avatar)) if user.avatar else self._avatar
        header = self.url(default_storage.url(user.header)) if user.header else self._header
        return {
            "id": str(user.pk),
            "username": user.username,
            "acct": user.username,
            "display_name": user.display_name,
            "locked": False,
            "bot": False,
            "discoverable": True,
            "group": False,
            "created_at": iso(user.date_joined),
            "note": render_post_html(user.bio),
            "url": url,
            "uri": url,
            "avatar": avatar,
            "avatar_static": avatar,
            "header": header,
            "header_static": header,
            "followers_count": user.followers_count,
            "following_count": user.following_count,
            "statuses_count": user.posts_count,
            "last_status_at": None,
            "emojis": [],
            "fields": [],
            "verified": user.is_verified,
            "content_usage": content_usage(user),
        }

    def credential_account(self, user) -> dict:
        """The caller's own Account with ``source`` (what the profile editor shows)."""
        data = self.account(user)
        data["source"] = {
            "privacy": "public",
            "sensitive": False,
            "language": "",
            "note": user.bio,
            "fields": [],
            "follow_requests_count": 0,
            "ai_training": ai_training_choice(user),
        }
        return data

    def status(self, post) -> dict:
        """Mastodon's Status for a decorated post; a repost wraps its original in ``reblog``.

        Refuses (``UngatedPostError``) a post the read gate did not deliver in this request,
        unless it is the caller's own.
        """
        return orjson.loads(self.statuses([post])[0].encoded)

    def statuses(self, posts) -> list[EncodedJSON]:
        """Statuses for a page of decorated posts, encoded: every post is checked against the
        gate, the shared parts come from one cache look-up as encoded bytes with holes, and
        the per-viewer fields are encoded into the holes here — no copy of a cached entity,
        no decoding, no re-encoding of the page (``api.renderers`` puts the bytes in place)."""
        posts = list(posts)
        for post in posts:
            post_delivered_check(self.request, post)
        keys = [self._status_key(post) for post in posts]
        pairs = list(zip(keys, posts, strict=True))
        # Shallow posts (``feeds.selectors._load(shallow=True)``) carry no text or counts:
        # the ones the cache lacks are described in full first, in one statement.
        full: dict[int, object] = {}
        shallow = {key: post for key, post in pairs if hasattr(post, "shallow_digest")}

        def describe(keys_to_build: list[str]) -> None:
            wanted = [shallow[key] for key in keys_to_build if key in shallow]
            if wanted:
                full.update(posts_described(wanted))

        builders = {
            key: partial(self._shallow_template, post, full)
            if key in shallow
            else partial(self._status_template, post)
            for key, post in pairs
        }
        shared = rendered_many(builders, prepare=describe)
        return [
            EncodedJSON(_template_fill(shared[key], self._viewer_fields(post)))
            for key, post in pairs
            if shared[key] is not None  # deleted since the page was read (shallow only)
        ]

    def _shallow_template(self, post, full: dict):
        """The template of a shallow post, from its full description: stored under the
        shallow key only if the description is of the same state (the digests agree), so
        a key never names what it does not hold; None (not stored) for a post deleted since."""
        described = full.get(post.pk)
        if described is None:
            return Unshared(None)
        template = self._status_template(described)
        if described.render_digest != post.shallow_digest:
            return Unshared(template)
        return template

    def _status_template(self, post) -> tuple:
        """What the cache holds for a status: its viewer-independent entity encoded, split
        where the per-viewer fields go (``_template``)."""
        holes = _REPOST_HOLES if post.repost_of_id else _POST_HOLES
        return _template(self._shared_status(post), holes)

    def _viewer_fields(self, post) -> dict:
        """The per-request part of a status, by its place in the entity: the viewer's flags
        (from the page's one batched look-up in ``feeds.selectors``) and
        ``media_attachments`` (signed URLs expire, so they are never cached)."""
        if post.repost_of_id:
            original = post.repost_of
            # The wrapper is the reposter's own row; the viewer's flags belong to the original.
            return {
                "bookmarked": bool(getattr(post, "viewer_bookmarked", False)),
                "reblog.favourited": bool(getattr(post, "viewer_liked", False)),
                "reblog.reblogged": bool(getattr(post, "viewer_reposted", False)),
                "reblog.bookmarked": bool(getattr(original, "viewer_bookmarked", False)),
                "reblog.media_attachments": self.media_attachments(original),
                "media_attachments": self.media_attachments(post),
            }
        return {
            "favourited": bool(getattr(post, "viewer_liked", False)),
            "reblogged": bool(getattr(post, "viewer_reposted", False)),
            "bookmarked": bool(getattr(post, "viewer_bookmarked", False)),
            "media_attachments": self.media_attachments(post),
        }

    def media_attachments(self, post) -> list[dict]:
        """Mastodon's MediaAttachment list for ``post``: per request, never cached."""
        return [self.media_attachment(media) for media in getattr(post, "media", ())]

    def _status_key(self, post) -> str:
        digest = getattr(post, "shallow_digest", None)
        if digest is not None:
            # The database's digest of the rows the status reads (``feeds.page_load``);
            # what else goes into it is the request's host and the site's AI default.
            inputs = (STATUS_RENDERING, self._base, site_default_allowed(), digest)
            return render_key("status-row", inputs)
        inputs = (STATUS_RENDERING, self._base, self._status_inputs(post))
        if post.repost_of_id:
            inputs += (self._status_inputs(post.repost_of),)
        return render_key("status", inputs)

    def _status_inputs(self, post) -> tuple:
        """Everything ``_status`` reads from a post (and its author), for the cache key."""
        reply_to = post.reply_to if post.reply_to_id else None
        return (
            post.pk,
            post.created_at,
            post.reply_to_id,
            reply_to.author_id if reply_to else None,
            post.replies_count,
            post.reposts_count,
            post.likes_count,
            post.text,
            tuple(getattr(post, "mentioned", ())),
            tuple(sorted(getattr(post, "mention_names", ()))),
            self._account_inputs(post.author),
        )

    @staticmethod
    def _account_inputs(user) -> tuple:
        """Everything ``_account`` reads from a user, for the cache key."""
        return (
            user.pk,
            user.username,
            user.display_name,
            user.bio,
            str(user.avatar),
            str(user.header),
            user.followers_count,
            user.following_count,
            user.posts_count,
            user.is_verified,
            user.date_joined,
            ai_training_allowed(user),
        )

    def _shared_status(self, post) -> dict:
        """The viewer-independent status: what the cache holds."""
        if post.repost_of_id:
            return self._status(post, content="", reblog=self._status(post.repost_of))
        return self._status(post)

    def _status(self, post, *, content: str | None = None, reblog: dict | None = None) -> dict:
        url = self.post_url(post.pk)
        reply_to = post.reply_to if post.reply_to_id else None
        mentioned = getattr(post, "mentioned", ()) if content is None else ()
        return {
            "id": str(post.pk),
            "created_at": iso(post.created_at),
            "edited_at": None,
            "in_reply_to_id": str(post.reply_to_id) if post.reply_to_id else None,
            "in_reply_to_account_id": str(reply_to.author_id) if reply_to else None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": None,
            "uri": url,
            "url": url,
            "replies_count": post.replies_count,
            "reblogs_count": post.reposts_count,
            "favourites_count": post.likes_count,
            # Per viewer: encoded into the cached bytes by ``statuses`` (``_viewer_fields``).
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
            "content": self._content(post) if content is None else content,
            "reblog": reblog,
            "application": None,
            "account": self.account(post.author),
            "media_attachments": [],  # per request: ``_viewer_fields``
            "mentions": [self.mention(user_id, name) for user_id, name in mentioned],
            "tags": [self.tag(name) for name in hashtag_names(post.text)],
            "emojis": [],
            "card": None,
            "poll": None,
            "content_usage": content_usage(post.author),
        }

    def _content(self, post) -> str:
        """The status's HTML: hashtags and resolved mentions link with absolute URLs."""
        return render_post_html(post.text, getattr(post, "mention_names", frozenset()), self._base)

    def media_attachment(self, media) -> dict:
        """Mastodon's MediaAttachment (an image), with signed expiring URLs: a post's images
        are served only to whoever was handed the post (``feeds.media_urls``)."""

        def meta(width: int, height: int) -> dict:
            return {
                "width": width,
                "height": height,
                "size": f"{width}x{height}",
                "aspect": width / height,
            }

        return {
            "id": str(media.pk),
            "type": "image",
            "url": self.url(media_url(media, "original")),
            "preview_url": self.url(media_url(media, "small")),
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {
                "original": meta(media.width, media.height),
                "small": meta(media.thumbnail_width, media.thumbnail_height),
                "focus": {"x": media.focus_x, "y": media.focus_y},
            },
            "description": media.description or None,
            "blurhash": media.blurhash or None,
        }

    def mention(self, user_id: int, username: str) -> dict:
        """Mastodon's Status::Mention."""
        url = f"{self._profile_url[0]}{username}{self._profile_url[1]}"
        return {"id": str(user_id), "username": username, "url": url, "acct": username}

    def tag(self, name: str) -> dict:
        """Mastodon's Status::Tag (``name`` normalised, ``url`` its timeline page)."""
        return {"name": name, "url": f"{self._base}/tags/{quote(name)}/"}

    @staticmethod
    def relationship(user_id: int, flags: dict[str, bool]) -> dict:
        """Mastodon's Relationship: whether the viewer follows them and they the viewer."""
        return {
            "id": str(user_id),
            "following": flags["following"],
            "showing_reblogs": flags["following"],
            "notifying": False,
            "languages": None,
            "followed_by": flags["followed_by"],
            "blocking": False,
            "blocked_by": False,
            "muting": False,
            "muting_notifications": False,
            "requested": False,
            "requested_by": False,
            "domain_blocking": False,
            "endorsed": False,
            "note": "",
        }

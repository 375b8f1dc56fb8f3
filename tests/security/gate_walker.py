"""The read gate kept by the structure: walk the whole URL conf and catch any post that leaves
unmetered (issue 12, item 4).

``walk`` calls every route the URL conf has (web and API, ``routes.route_paths``: each
parameter takes every sample of the seeded world, an unknown parameter every sample there
is) with GET, POST and DELETE, as one reader, each call in a savepoint rolled back after
it, with the reader's ledger emptied first. A response fails the walk when it carries the
text of a post that

- is by a suspended author (the visibility rule), or
- is not the reader's own and has no ledger receipt for the reader today (not charged), or
- left no new access-log record for the reader (not logged; own posts included),

or that names the suspended author at all (a hidden reply parent's "Replying to @…"),

or when the view raised (``UngatedPostError`` from the serialization guard, or any bug).
Post texts carry unique markers, so a post is found in HTML, JSON or anything else. There is
no list of routes: a route added tomorrow is walked tomorrow.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field

from django.db import transaction
from django.test import Client

from access.access_log_drain import access_log_drain
from access.gate import window_day
from access.ledgers import RedisLedger, ledger_get
from access.models import AccessLogEntry, ReadReceipt
from accounts.services import token_create
from core.client_ip import ip_prefix
from feeds import notifications, services
from feeds.bookmarks import bookmark_create
from feeds.models import MediaAttachment, Notification, Post
from tests.factories import UserFactory

from .routes import route_paths

MARKER = "gatewalk"
TAG = "walktag"  # on posts by the writer and by the suspended author, so both are searched too
METHODS = ("get", "post", "delete")
ANONYMOUS_IP = "127.0.0.1"  # the test client's REMOTE_ADDR


@dataclass
class WalkWorld:
    """People and posts of every kind a route may show: plain posts, replies, reposts, the
    reader's own posts and reposts, a thread, and a suspended author's posts, reposts of
    them and replies to them."""

    reader: object
    writer: object
    gone: object
    token: str
    posts: dict[str, Post] = field(default_factory=dict)
    notification_ids: list[int] = field(default_factory=list)
    media_ids: list[int] = field(default_factory=list)
    markers: dict[int, str] = field(default_factory=dict)  # post id → its text's marker

    def add(self, kind: str, post: Post) -> Post:
        self.posts[kind] = post
        if post.text:
            marker = post.text.split()[-1]
            self.markers[post.pk] = marker
        return post

    def text(self, kind: str, author, reply_to: Post | None = None) -> Post:
        """A post (or reply) whose text ends with a marker no other text contains."""
        text = f"{kind} {MARKER}{secrets.token_hex(5)}"
        return self.add(kind, services.post_create(author=author, text=text, reply_to=reply_to))

    @property
    def hidden_ids(self) -> set[int]:
        return {pk for pk, post in self._by_id.items() if post.author_id == self.gone.pk}

    @property
    def _by_id(self) -> dict[int, Post]:
        return {post.pk: post for post in self.posts.values()}

    def author_of(self, post_id: int) -> int:
        return self._by_id[post_id].author_id

    def samples(self) -> tuple[dict[str, list[str]], list[str]]:
        """Values for each parameter name, and for names nobody told us about."""
        post_ids = [str(post.pk) for post in self.posts.values()]
        user_ids = [str(user.pk) for user in (self.writer, self.gone, self.reader)]
        names = [user.username for user in (self.writer, self.gone, self.reader)]
        by_name = {"post_id": post_ids, "status_id": post_ids, "account_id": user_ids}
        by_name["username"] = names
        # Hashtag timelines and notifications (issue 15): the world's tag, the reader's
        # notifications (a mention and a like by the suspended author among them).
        by_name["tag"] = by_name["hashtag"] = [TAG]
        by_name["notification_id"] = [str(pk) for pk in self.notification_ids]
        by_name["media_id"] = [str(pk) for pk in self.media_ids]
        return by_name, sorted({*post_ids, *user_ids, *names})


def walk_world_create() -> WalkWorld:
    """Seed the world (one per test module: ``walk`` rolls every call back)."""
    reader = UserFactory(username="walkreader")
    writer = UserFactory(username="walkwriter")
    other = UserFactory(username="walkother")
    gone = UserFactory(username="walkgone")
    _token, raw = token_create(user=reader, name="walker", scopes=["read", "write"])
    world = WalkWorld(reader=reader, writer=writer, gone=gone, token=raw)
    world.text("plain", writer)
    own = world.text("own", reader)
    world.text("reply_to_reader", writer, reply_to=own)
    third = world.text("third", other)
    world.add("writer_repost", services.repost_create(user=writer, post=third))
    liked = world.text("liked", writer)
    services.like_create(user=other, post=liked)
    world.add("own_repost", services.repost_create(user=reader, post=liked))
    root = world.text("root", writer)
    child = world.text("child", other, reply_to=root)
    world.text("grandchild", writer, reply_to=child)
    hidden = world.text("hidden", gone)
    world.add("hidden_repost", services.repost_create(user=writer, post=hidden))
    world.text("reply_to_hidden", writer, reply_to=hidden)
    for followee in (writer, other, gone):
        services.follow_create(follower=reader, followee=followee)
    # Mentions, hashtags, notifications and bookmarks (issue 15), the suspended author's too:
    # they reach the tag timeline, search, notifications, bookmarks and liked posts.
    tagged = world.text(f"tagged #{TAG} @{reader.username}", writer)
    gone_tagged = world.text(f"gone_tagged #{TAG} @{reader.username}", gone)
    for post in (tagged, gone_tagged, own):
        bookmark_create(user=reader, post=post)
        services.like_create(user=reader, post=post)
    services.like_create(user=gone, post=own)
    services.like_create(user=writer, post=own)
    for post in (tagged, gone_tagged):
        notifications.notifications_for_post(post_id=post.pk)
    notifications.notification_for_like(user_id=gone.pk, post_id=own.pk)
    notifications.notification_for_like(user_id=writer.pk, post_id=own.pk)
    world.notification_ids = list(
        Notification.objects.filter(recipient=reader).values_list("pk", flat=True)
    )
    # Images (issue 15): on a writer's post, on the suspended author's, and uploads not yet
    # posted by the reader and the writer, so media routes have real ids and statuses carry
    # attachments (rows only: no route may need the files to answer without a 500).
    for owner, post in (
        (writer, world.posts["plain"]),
        (gone, hidden),
        (reader, None),
        (writer, None),
    ):
        world.media_ids.append(_walk_media(owner, post).pk)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    return world


def _walk_media(owner, post: Post | None) -> MediaAttachment:
    return MediaAttachment.objects.create(
        owner=owner,
        post=post,
        description="an image on the walk",
        file=f"post-media/walk{secrets.token_hex(4)}.jpg",
        width=800,
        height=600,
        thumbnail=f"post-media/walk{secrets.token_hex(4)}.small.jpg",
        thumbnail_width=400,
        thumbnail_height=300,
        blurhash="L7ND%C]TfQ]T|wo1fQo1fQfQfQfQ",
    )


def _receipts(principal: str) -> set[int]:
    """The post ids the reader has a ledger receipt for today."""
    ledger, day = ledger_get(), window_day()
    if isinstance(ledger, RedisLedger):
        return {int(pid) for pid in ledger.client.smembers(ledger.key(principal, day))}
    rows = ReadReceipt.objects.filter(principal=principal, day=day)
    return set(rows.values_list("post_id", flat=True))


def _ledger_empty(principal: str) -> None:
    """Forget the reader's reads (the database ledger is reset by the savepoint already)."""
    ledger = ledger_get()
    if isinstance(ledger, RedisLedger):
        ledger.client.delete(ledger.key(principal, window_day()))


def _records(principal: str) -> int:
    access_log_drain(max_seconds=0)  # the Redis stream, when Redis is the ledger
    return AccessLogEntry.objects.filter(principal=principal).count()


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


class Walker:
    """One reader's walk. ``logged_in``: a session for the web and a token for the API."""

    def __init__(self, world: WalkWorld, *, logged_in: bool, skip: frozenset[str] = frozenset()):
        self.world = world
        self.logged_in = logged_in
        self.skip = skip  # route patterns not to walk (ones another walk covers)
        self.walked: set[str] = set()
        self.client = Client()
        if logged_in:
            self.client.force_login(world.reader)
            self.client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {world.token}"
            self.principal = f"user:{world.reader.pk}"
        else:
            self.principal = f"ip:{ip_prefix(ANONYMOUS_IP)}"
        self.calls = 0
        self.showed_posts = 0

    def bodies(self, method: str, pattern: str) -> list[dict]:
        """No body, or for POST one that posts, and (where no post is in the path) one that
        replies: the fields of the web composer and of the API's status form."""
        if method != "post":
            return [{}]
        plain = {"status": "walker says hi", "text": "walker says hi", "next": "/"}
        if "<" in pattern:
            return [plain]
        target = self.world.posts["plain"].pk
        return [plain, {**plain, "reply_to": target, "in_reply_to_id": target}]

    def walk(self) -> list[str]:
        """Every route, method and body; returns what failed, one line each.

        A method a route answers 405 to is not tried again with the route's other samples.
        """
        failures: list[str] = []
        not_allowed: set[tuple[str, str]] = set()
        by_name, fallback = self.world.samples()
        for pattern, path in route_paths(by_name, fallback):
            if pattern in self.skip:
                continue
            self.walked.add(pattern)
            for method in METHODS:
                if (pattern, method) in not_allowed:
                    continue
                for data in self.bodies(method, pattern):
                    status, found = self.call(method, path, data)
                    failures += found
                    if status == 405:
                        not_allowed.add((pattern, method))
        return failures

    def call(self, method: str, path: str, data: dict) -> tuple[int | None, list[str]]:
        """One request in a savepoint that is rolled back: the world stays as seeded.
        Returns the status (None if the view raised) and the failures."""
        who = "logged-in" if self.logged_in else "logged-out"
        where = f"{who} {method.upper()} {path} {sorted(data)}"
        cookies = copy.deepcopy(self.client.cookies)  # logging out must not end the walk
        self.calls += 1
        status = None
        try:
            with transaction.atomic():
                _ledger_empty(self.principal)
                before = _records(self.principal)
                response = getattr(self.client, method)(path, data)
                status = response.status_code
                failures = self.check(where, _body(response), before)
                transaction.set_rollback(True)
        except Exception as exc:  # noqa: BLE001 - any exception is a finding, reported as one
            failures = [f"{where}: raised {type(exc).__name__}: {exc}"]
        finally:
            self.client.cookies = cookies
        return status, failures

    def check(self, where: str, body: bytes, records_before: int) -> list[str]:
        failures = []
        if self.world.gone.username.encode() in body:  # e.g. "Replying to @…" a hidden post
            failures.append(f"{where}: names the suspended author")
        shown = [pk for pk, marker in self.world.markers.items() if marker.encode() in body]
        if not shown:
            return failures
        self.showed_posts += 1
        hidden = sorted(set(shown) & self.world.hidden_ids)
        if hidden:
            failures.append(f"{where}: shows posts {hidden} of a suspended author")
        reader_id = self.world.reader.pk if self.logged_in else None
        foreign = [pk for pk in shown if self.world.author_of(pk) != reader_id]
        uncharged = sorted(set(foreign) - _receipts(self.principal))
        if uncharged:
            failures.append(f"{where}: shows posts {uncharged} the reader was not charged for")
        if _records(self.principal) <= records_before:
            failures.append(f"{where}: shows posts {sorted(shown)} but left no access-log record")
        return failures

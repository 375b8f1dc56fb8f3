"""Reads for feeds: timelines, threads and the people around a post.

Every post look-up goes through ``Post.objects.visible()`` (the one visibility rule) and every
post list through ``_load``, which attaches authors, reply targets and reposted
originals and the viewer's likes and reposts, so a page of any size costs the same few queries.
Pages are keyset-paginated on id (``max_id``/``since_id``/``min_id``), never OFFSET.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from redis import RedisError

from accounts.ai_training import ai_training_allowed_q
from accounts.models import User
from core.prepared import (
    BIGINT_MAX,
    Compiled,
    prepared_instances,
    queryset_compile,
    shape_rows,
    size_bucket,
)
from core.render_cache import render_cache_enabled

from .home_feed import home_feed_get
from .home_timelines import home_feed_rebuild_queue
from .models import Follow, Like, MediaAttachment, Mention, Post, followees_if_few
from .page_load import page_rows, shallow_rows_available

logger = logging.getLogger(__name__)

THREAD_LIMIT = 500  # posts loaded for one conversation


@dataclass(frozen=True)
class PageRequest:
    """Where a page starts and how long it is, Mastodon-style.

    ``max_id``: older than this id; ``since_id``: newer than this id (newest first);
    ``min_id``: immediately newer than this id (the page just above it).
    """

    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None
    limit: int = settings.TIMELINE_PAGE_SIZE


def _keyset(queryset: QuerySet, page: PageRequest, key: str) -> tuple[QuerySet, bool]:
    """``queryset`` cut to ``page`` by keyset on ``key``, and whether its rows come oldest
    first (``min_id``: the page just above it, to be reversed)."""
    if page.max_id is not None:
        queryset = queryset.filter(**{f"{key}__lt": page.max_id})
    if page.since_id is not None:
        queryset = queryset.filter(**{f"{key}__gt": page.since_id})
    if page.min_id is not None:
        return queryset.filter(**{f"{key}__gt": page.min_id}).order_by(key)[: page.limit], True
    return queryset.order_by(f"-{key}")[: page.limit], False


def keyset_page(queryset: QuerySet, page: PageRequest, *, key: str = "id") -> list:
    """One page of ``queryset``, newest first, by keyset on ``key``."""
    cut, ascending = _keyset(queryset, page, key)
    rows = list(cut)
    if ascending:
        rows.reverse()
    return rows


_CURSORS = ("max_id", "since_id", "min_id")


@lru_cache(maxsize=512)
def _keyset_compiled(
    vendor: str, shape: Callable[..., QuerySet], arguments: tuple[str, ...], cursors, limit: int
) -> Compiled:
    def build(**values) -> QuerySet:
        cursor = {name: values[name] for name in cursors}
        queryset = shape(**{name: values[name] for name in arguments})
        return _keyset(queryset, PageRequest(**cursor, limit=limit), "id")[0]

    return queryset_compile(build, [*arguments, *cursors])


def keyset_page_prepared(
    shape: Callable[..., QuerySet], page: PageRequest, **arguments: int
) -> list[Post]:
    """``keyset_page(shape(**arguments), page)`` for a timeline's QuerySet shape, compiled
    once per shape, cursors given and limit bucket, and run as a prepared statement on
    PostgreSQL: a timeline's keyset query took longer to compile and plan than to run
    (docs/performance.md). ``shape`` must be a module-level function of ``arguments`` (the
    cache's key): its QuerySet stays the one place its rule is stated."""
    cursors = tuple(name for name in _CURSORS if getattr(page, name) is not None)
    limit = size_bucket(page.limit)
    compiled = _keyset_compiled(connection.vendor, shape, tuple(sorted(arguments)), cursors, limit)
    values = {**arguments, **{name: getattr(page, name) for name in cursors}}
    rows = prepared_instances(compiled, values)[: page.limit]
    if page.min_id is not None:
        rows.reverse()
    return rows


def _load(
    posts: list[Post],
    viewer: User | None,
    described: dict | None = None,
    *,
    shallow: bool = False,
) -> list[Post]:
    """Attach what showing posts needs, in at most three queries whatever the page holds.

    One statement (``feeds.page_load``) gives, per post, its author, its reposted original
    and that one's author, the reply target of what is shown (through the visibility rule: a
    hidden one is missing, and shown as such), the viewer's flags as ``viewer_liked``/
    ``viewer_reposted``/``viewer_bookmarked``, and whether the shown post has mentions or
    images; those two are queried only when a page has any. The ORM's way took seven queries
    and ~6 ms of a page's Python compiling them (bench/profile_request.py). ``described``:
    the statement's rows, when the caller has them already (the materialised home page).

    ``shallow`` (the API's status lists, with the render cache on): described by shallow rows
    where the database gives them (``feeds.page_load``): each post and its original carry
    only what the read gate, the AI-training headers and a status's per-viewer fields read,
    and ``shallow_digest``, the digest its cached status is found by; no mention query. The
    status of one the cache lacks is rendered from ``posts_described``. Reading anything
    else of such a post costs a query (correct, never stale).
    """
    if not posts:
        return posts
    shallow = _shallow_possible(shallow)
    if described is None:
        viewer_id = viewer.pk if viewer is not None and viewer.is_authenticated else None
        described = page_rows([post.pk for post in posts], viewer_id, shallow=shallow)
    # A post deleted since the page was chosen, or a repost whose original was hidden since:
    # nothing left to show.
    posts = [
        post
        for post in posts
        if post.pk in described and (not post.repost_of_id or described[post.pk].original)
    ]
    for post in posts:
        row = described[post.pk]
        post.author = row.post.author
        if post.repost_of_id:
            original = post.repost_of = row.original
            if original.reply_to_id and not shallow:
                # A hidden parent reads as a deleted one: no reply target (reply_to_id kept).
                original.reply_to = row.original_reply_target
        elif post.reply_to_id and not shallow:
            post.reply_to = row.reply_target
        post.viewer_liked = row.liked
        post.viewer_reposted = row.reposted
        post.viewer_bookmarked = row.bookmarked
        if shallow:
            post.shallow_digest = row.digest
    _references_attach(posts, described, mentions=not shallow)
    return posts


def _shallow_possible(shallow: bool) -> bool:
    """Whether a page asked to be shallow can be: only with statuses found in the render
    cache, and only where the database makes the digest they are found by."""
    return shallow and render_cache_enabled() and shallow_rows_available()


def posts_described(posts: list[Post]) -> dict[int, Post]:
    """Copies of shallow ``posts`` (``_load(shallow=True)``) described in full by one wide
    statement, by id, each with ``render_digest``, its row's digest (equal to the post's
    ``shallow_digest`` unless a column changed in between): what the statuses the render
    cache lacked are rendered from. Viewer-independent (no flags). A post deleted, or whose
    original was hidden, since is missing."""
    described = page_rows([post.pk for post in posts], None, digest=True)
    full = _load([row.post for row in described.values()], None, described)
    for post in full:
        post.render_digest = described[post.pk].digest
    return {post.pk: post for post in full}


def _references_attach(posts: list[Post], described: dict, *, mentions: bool = True) -> None:
    """Attach what each shown post mentions (``mentioned``: (id, username) pairs, and
    ``mention_names`` for rendering) and its images in order (``media``): one query each,
    only when a shown post has any (``mentions=False``: images only)."""
    shown_ids = [post.repost_of_id or post.pk for post in posts]
    mentioned: dict[int, list[tuple[int, str]]] = {}
    wanted = [
        sid
        for post, sid in zip(posts, shown_ids, strict=True)
        if mentions and described[post.pk].has_mentions
    ]
    if wanted:
        rows = Mention.objects.filter(post_id__in=wanted).order_by("id")
        for post_id, user_id, username in rows.values_list("post_id", "user_id", "user__username"):
            mentioned.setdefault(post_id, []).append((user_id, username))
    media: dict[int, list[MediaAttachment]] = {}
    wanted = [
        sid for post, sid in zip(posts, shown_ids, strict=True) if described[post.pk].has_media
    ]
    if wanted:
        images = MediaAttachment.objects.filter(post_id__in=wanted)
        for image in images.order_by("post_id", "position"):
            media.setdefault(image.post_id, []).append(image)
    for post, shown_id in zip(posts, shown_ids, strict=True):
        shown = post.repost_of if post.repost_of_id else post
        if mentions:
            shown.mentioned = mentioned.get(shown_id, [])
            shown.mention_names = frozenset(name.lower() for _, name in shown.mentioned)
        shown.media = media.get(shown_id, [])


def posts_decorate(posts: list[Post], viewer: User | None, *, shallow: bool = False) -> list[Post]:
    """Load what showing ``posts`` needs (as every timeline does) for lists built elsewhere
    in feeds: notifications, bookmarks, tag timelines. Use the list it returns. ``shallow``:
    as ``_load``'s."""
    return _load(posts, viewer, shallow=shallow)


def timeline_licensable(*, page: PageRequest = PageRequest()) -> list[Post]:
    """Posts (no reposts) whose authors allow AI training — what the licensed lane may sell.

    The author's choice is read in the query itself, so a change applies to the next page.
    """
    queryset = Post.objects.visible(reposts=False).filter(ai_training_allowed_q(via="author__"))
    return _load(keyset_page(queryset, page), None)


def home_posts(*, viewer_id: int) -> QuerySet:
    """The home rule: visible posts by the viewer or by someone they follow."""
    return Post.objects.visible().home_of(viewer_id)


def timeline_home(
    *, viewer: User, page: PageRequest = PageRequest(), shallow: bool = False
) -> list[Post]:
    """The viewer's own posts and the posts and reposts of everyone they follow.

    From the reader's materialised timeline in Redis when it can answer the page exactly
    (``feeds.home_feed``), else from the database; the two give the same page. ``shallow``:
    as ``_load``'s.
    """
    described: dict = {}
    shallow = _shallow_possible(shallow)
    posts = _home_page_materialised(
        viewer_id=viewer.pk, page=page, described=described, shallow=shallow
    )
    if posts is None:
        followees = followees_if_few(viewer.pk, following_count=viewer.following_count)
        if followees is not None:
            # Few followed accounts: their ids spelled out, planned with them (not prepared:
            # a generic plan would walk the post table as the subquery's does).
            rule = Post.objects.visible().home_of(viewer.pk, followees=followees)
            return _load(keyset_page(rule, page), viewer, shallow=shallow)
        home = keyset_page_prepared(home_posts, page, viewer_id=viewer.pk)
        return _load(home, viewer, shallow=shallow)
    return _load(posts, viewer, described, shallow=shallow)


HOME_FEED_READS = 3  # reads of a reader's set per page before the database takes over
HOME_FEED_SLACK = 10  # ids read beyond the page, for the stale ones the home rule drops


def home_first_read(page: PageRequest) -> dict:
    """The arguments of a home page's first ``HomeFeed.read``: ids strictly above ``above``
    and below ``below`` (None: no bound), oldest first for ``min_id``, the page and its slack
    (the API makes this read ahead, in the token check's round trip)."""
    return {
        "above": max(page.since_id or 0, page.min_id or 0),
        "below": page.max_id,
        "ascending": page.min_id is not None,
        "count": page.limit + HOME_FEED_SLACK,
    }


def _home_page_materialised(
    *, viewer_id: int, page: PageRequest, described: dict | None = None, shallow: bool = False
) -> list[Post] | None:
    """The page from the reader's materialised timeline, or None when the database must
    answer: timelines off, Redis unreachable, the reader cold (a rebuild is queued), the
    page reaching below the set's floor (past the cap), or too many stale ids in a row.

    The ids are only candidates: they are loaded through the home rule and the visibility
    rule (``feeds.page_load``'s statement with ``home_of``, which also describes them, into
    ``described``), so what comes back is exactly the database query's page. Redis never
    holds a post the reader may not see; at worst it holds one the rule then drops.
    """
    feed = home_feed_get()
    if feed is None:
        return None
    described = {} if described is None else described
    first = home_first_read(page)
    lower, upper = first["above"], first["below"]
    ascending, count = first["ascending"], first["count"]
    found: list[int] = []  # ids, in page order
    try:
        for _ in range(HOME_FEED_READS):
            piece = feed.read(viewer_id, above=lower, below=upper, ascending=ascending, count=count)
            if piece.floor is None:
                home_feed_rebuild_queue(viewer_id=viewer_id)
                return None
            # The set holds every home entry at or above its floor, and nothing below it.
            reaches_floor = piece.floor == 0 or lower + 1 >= piece.floor
            if ascending and not reaches_floor:
                return None  # the page starts below the floor: ids there may be missing
            rows = page_rows(piece.ids, viewer_id, home_of=viewer_id, shallow=shallow)
            described.update(rows)
            found.extend(pid for pid in piece.ids if pid in rows)
            if len(found) >= page.limit:
                found = found[: page.limit]
                break
            if len(piece.ids) < count:  # the set has nothing more in the range
                if not reaches_floor:
                    return None  # older entries were trimmed: the database has them
                break
            if ascending:
                lower = piece.ids[-1]
            else:
                upper = piece.ids[-1]
        else:
            return None
    except RedisError:
        logger.warning("home timeline: Redis unreachable, serving from the database")
        return None
    if ascending:
        found.reverse()
    return [described[pid].post for pid in found]


def timeline_public(
    *, viewer: User | None, page: PageRequest = PageRequest(), shallow: bool = False
) -> list[Post]:
    """Everyone's posts and replies. Reposts are left out, as on Mastodon: they would
    only repeat posts already on this timeline. ``shallow``: as ``_load``'s."""
    return _load(keyset_page_prepared(_public_posts, page), viewer, shallow=shallow)


def _public_posts() -> QuerySet:
    """The public timeline's posts: visible, reposts left out."""
    return Post.objects.visible(reposts=False)


def timeline_profile(
    *,
    author_id: int,
    viewer: User | None,
    page: PageRequest = PageRequest(),
    exclude_replies: bool = False,
    exclude_reposts: bool = False,
    shallow: bool = False,
) -> list[Post]:
    """One person's posts, replies and reposts. Through the visibility rule, so a page with
    a post is an active account's: a caller that has not looked the account up needs to only
    when the page is empty. ``shallow``: as ``_load``'s."""
    shape = _PROFILE_SHAPES[exclude_replies, exclude_reposts]
    return _load(keyset_page_prepared(shape, page, author_id=author_id), viewer, shallow=shallow)


def _profile_posts(author_id: int, *, exclude_replies: bool, exclude_reposts: bool) -> QuerySet:
    queryset = Post.objects.visible().filter(author_id=author_id)
    if exclude_replies:
        queryset = queryset.filter(reply_to__isnull=True)
    if exclude_reposts:
        queryset = queryset.filter(repost_of__isnull=True)
    return queryset


# One shape per choice of filters (a shape is a function of its arguments only).
_PROFILE_SHAPES = {
    (replies, reposts): partial(_profile_posts, exclude_replies=replies, exclude_reposts=reposts)
    for replies in (False, True)
    for reposts in (False, True)
}


def _visible_post(post_id: int) -> QuerySet:
    return Post.objects.visible().filter(pk=post_id)


def post_get(*, post_id: int, viewer: User | None, shallow: bool = False) -> Post | None:
    """One post, decorated like a timeline entry, or None if it does not exist.
    ``shallow``: as ``_load``'s."""
    if not 0 < post_id <= BIGINT_MAX:  # no such id (and no prepared bigint can hold it)
        return None
    rows = shape_rows(_visible_post, post_id=post_id)
    return next(iter(_load(rows, viewer, shallow=shallow)), None)


@dataclass
class Thread:
    """A post with the conversation around it."""

    post: Post
    ancestors: list[Post]
    descendants: list[Post]


def _conversation(root_id: int) -> QuerySet:
    """A thread's visible posts, its root first, at most ``THREAD_LIMIT``."""
    conversation = Post.objects.visible().filter(Q(pk=root_id) | Q(thread_root_id=root_id))
    return conversation.order_by("id")[:THREAD_LIMIT]


def post_thread(*, post: Post, viewer: User | None, shallow: bool = False) -> Thread:
    """The post's ancestors (oldest first) and its replies, depth-first, in one query.

    For a repost, the thread is the original's. ``shallow``: as ``_load``'s.
    """
    focus = post.repost_of if post.repost_of_id else post
    root_id = focus.thread_root_id or focus.pk
    rows = _load(shape_rows(_conversation, root_id=root_id), viewer, shallow=shallow)
    by_id = {row.pk: row for row in rows}
    focus = by_id.get(focus.pk, focus)

    ancestors: list[Post] = []
    parent_id = focus.reply_to_id
    while parent_id is not None and parent_id in by_id and len(ancestors) < THREAD_LIMIT:
        parent = by_id[parent_id]
        ancestors.append(parent)
        parent_id = parent.reply_to_id
    ancestors.reverse()

    children: dict[int, list[Post]] = {}
    for row in rows:
        if row.reply_to_id is not None:
            children.setdefault(row.reply_to_id, []).append(row)
    descendants: list[Post] = []
    stack = list(reversed(children.get(focus.pk, [])))
    while stack:
        row = stack.pop()
        descendants.append(row)
        stack.extend(reversed(children.get(row.pk, [])))
    return Thread(post=focus, ancestors=ancestors, descendants=descendants)


def followers_page(*, user: User, page: PageRequest = PageRequest()) -> list[Follow]:
    """Who follows ``user``, most recent first (``Follow.follower`` joined)."""
    queryset = Follow.objects.filter(followee_id=user.pk, follower__is_active=True)
    return keyset_page(queryset.select_related("follower"), page)


def following_page(*, user: User, page: PageRequest = PageRequest()) -> list[Follow]:
    """Whom ``user`` follows, most recent first (``Follow.followee`` joined)."""
    queryset = Follow.objects.filter(follower_id=user.pk, followee__is_active=True)
    return keyset_page(queryset.select_related("followee"), page)


def likes_page(*, post: Post, page: PageRequest = PageRequest()) -> list[Like]:
    """Who liked ``post``, most recent first (``Like.user`` joined)."""
    queryset = Like.objects.filter(post_id=post.pk, user__is_active=True)
    return keyset_page(queryset.select_related("user"), page)


def reposts_page(*, post: Post, page: PageRequest = PageRequest()) -> list[Post]:
    """The reposts of ``post``, most recent first (``Post.author`` joined)."""
    queryset = Post.objects.visible().filter(repost_of_id=post.pk)
    return keyset_page(queryset.select_related("author"), page)


def is_following(*, follower: User | None, followee: User) -> bool:
    if follower is None or not follower.is_authenticated:
        return False
    return Follow.objects.filter(follower_id=follower.pk, followee_id=followee.pk).exists()


def relationships(*, viewer: User, user_ids: list[int]) -> dict[int, dict[str, bool]]:
    """For each id: whether the viewer follows them and whether they follow the viewer."""
    following = set(
        Follow.objects.filter(follower_id=viewer.pk, followee_id__in=user_ids).values_list(
            "followee_id", flat=True
        )
    )
    followed_by = set(
        Follow.objects.filter(followee_id=viewer.pk, follower_id__in=user_ids).values_list(
            "follower_id", flat=True
        )
    )
    return {
        user_id: {"following": user_id in following, "followed_by": user_id in followed_by}
        for user_id in user_ids
    }

"""The one statement that describes a page (feeds.page_load) against the ORM's answer."""

import pytest

from accounts.models import User
from accounts.moderation import user_suspend
from feeds import page_load, selectors, services
from feeds.bookmarks import bookmark_create
from feeds.media import media_create
from feeds.models import Bookmark, Like, MediaAttachment, Mention, Post, PostQuerySet
from tests.factories import UserFactory
from tests.media_helpers import upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def orm_load(posts: list[Post], viewer) -> list[Post]:
    """What the page statement replaced, kept as its specification: the posts decorated by
    ORM queries through ``Post.objects.visible()``."""
    related_ids = {p.repost_of_id for p in posts if p.repost_of_id}
    related_ids |= {p.reply_to_id for p in posts if p.reply_to_id}
    wanted = sorted(related_ids) or [0]
    direct = Post.objects.filter(pk__in=wanted).values("pk")
    parents = Post.objects.filter(pk__in=wanted, reply_to__isnull=False).values("reply_to_id")
    related = {row.pk: row for row in Post.objects.visible().filter(pk__in=direct.union(parents))}
    existing = set(Post.objects.filter(pk__in=[p.pk for p in posts]).values_list("pk", flat=True))
    posts = [
        p for p in posts if p.pk in existing and (not p.repost_of_id or p.repost_of_id in related)
    ]
    everyone = [*posts, *related.values()]
    authors = User.objects.in_bulk({row.author_id for row in everyone})
    for row in everyone:
        row.author = authors[row.author_id]
    for post in posts:
        if post.repost_of_id:
            post.repost_of = related[post.repost_of_id]
    for row in everyone:
        if row.reply_to_id:
            row.reply_to = related.get(row.reply_to_id)
    shown_ids = [post.repost_of_id or post.pk for post in posts]
    viewer_id = viewer.pk if viewer else 0
    liked = set(
        Like.objects.filter(user_id=viewer_id, post_id__in=shown_ids).values_list(
            "post_id", flat=True
        )
    )
    reposted = set(
        Post.objects.filter(author_id=viewer_id, repost_of_id__in=shown_ids).values_list(
            "repost_of_id", flat=True
        )
    )
    bookmarked = set(
        Bookmark.objects.filter(user_id=viewer_id, post_id__in=shown_ids).values_list(
            "post_id", flat=True
        )
    )
    mentions: dict[int, list] = {}
    for post_id, user_id, username in (
        Mention.objects.filter(post_id__in=shown_ids)
        .order_by("id")
        .values_list("post_id", "user_id", "user__username")
    ):
        mentions.setdefault(post_id, []).append((user_id, username))
    media: dict[int, list] = {}
    for image in MediaAttachment.objects.filter(post_id__in=shown_ids).order_by(
        "post_id", "position"
    ):
        media.setdefault(image.post_id, []).append(image)
    for post, shown_id in zip(posts, shown_ids, strict=True):
        post.viewer_liked = shown_id in liked
        post.viewer_reposted = shown_id in reposted
        post.viewer_bookmarked = shown_id in bookmarked
        shown = post.shown
        shown.mentioned = mentions.get(shown_id, [])
        shown.mention_names = frozenset(name.lower() for _, name in shown.mentioned)
        shown.media = media.get(shown_id, [])
    return posts


def fields(instance) -> dict | None:
    if instance is None:
        return None
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def described(post: Post) -> dict:
    """Everything a status or a post fragment reads from a decorated post."""
    shown = post.shown
    target = shown.reply_to if shown.reply_to_id else None
    return {
        "post": fields(post),
        "author": fields(post.author),
        "shown": fields(shown),
        "shown_author": fields(shown.author),
        "reply_to": fields(target),
        "reply_to_author": fields(target.author) if target else None,
        "flags": (post.viewer_liked, post.viewer_reposted, post.viewer_bookmarked),
        "mentioned": shown.mentioned,
        "mention_names": shown.mention_names,
        "media": [fields(image) for image in shown.media],
    }


def every_kind(viewer):
    """Posts of every kind the statement must describe as the ORM does."""
    ann, bob, sam = UserFactory(username="ann"), UserFactory(username="bob"), UserFactory()
    plain = services.post_create(author=ann, text="plain, mentioning @bob")
    reply = services.post_create(author=bob, text="a reply", reply_to=plain)
    doomed = services.post_create(author=ann, text="soon gone")
    orphan = services.post_create(author=bob, text="parent deleted", reply_to=doomed)
    services.post_delete(post=doomed, actor=ann)
    hidden_parent = services.post_create(author=sam, text="sam, suspended later")
    reply_to_hidden = services.post_create(author=ann, text="to sam", reply_to=hidden_parent)
    repost = services.repost_create(user=bob, post=plain)
    reposted_reply = services.repost_create(user=ann, post=reply)
    reposted_orphan = services.repost_create(user=ann, post=orphan)
    hidden_original = services.repost_create(user=ann, post=hidden_parent)
    image = media_create(owner=ann, upload=upload(), description="red")
    pictured = services.post_create(author=ann, text="look", media_ids=[image.pk])
    pictured_repost = services.repost_create(user=bob, post=pictured)
    own = services.post_create(author=viewer, text="mine")
    services.like_create(user=viewer, post=plain)
    services.repost_create(user=viewer, post=reply)
    bookmark_create(user=viewer, post=pictured)
    user_suspend(user=sam, actor=None, reason="spam")
    return [
        plain,
        reply,
        orphan,
        reply_to_hidden,
        repost,
        reposted_reply,
        reposted_orphan,
        hidden_original,
        pictured,
        pictured_repost,
        own,
    ]


def fresh(posts) -> list[Post]:
    by_id = Post.objects.in_bulk([p.pk for p in posts])
    return [by_id[p.pk] for p in posts if p.pk in by_id]


@pytest.mark.parametrize("logged_in", [True, False])
def test_the_page_statement_describes_every_kind_of_post_as_the_orm(logged_in):
    """Ensures that the page statement decorates posts, replies (to visible, deleted and hidden
    parents), reposts (of posts, of replies, of a hidden original), posts with mentions and
    images, and the viewer's likes, reposts and bookmarks exactly as the ORM queries did."""
    viewer = UserFactory(username="viewer")
    posts = every_kind(viewer)
    reader = viewer if logged_in else None
    expected = [described(p) for p in orm_load(fresh(posts), reader)]
    actual = [described(p) for p in selectors.posts_decorate(fresh(posts), reader)]
    assert actual == expected
    assert len(actual) == len(posts) - 1  # the repost of a suspended author's post is dropped
    assert any(row["flags"] != (False, False, False) for row in actual) == logged_in


def test_a_post_deleted_after_the_page_was_chosen_is_left_out():
    """Ensures that a post deleted between choosing the page and describing it is not shown
    (the statement finds no row for it), nor a repost whose original went with it."""
    viewer, ann = UserFactory(), UserFactory()
    kept = services.post_create(author=ann, text="kept")
    gone = services.post_create(author=ann, text="gone")
    repost = services.repost_create(user=viewer, post=gone)
    page = fresh([kept, gone, repost])
    services.post_delete(post=gone, actor=ann)
    assert [p.pk for p in selectors.posts_decorate(page, viewer)] == [kept.pk]


def test_mentions_and_images_cost_a_query_only_when_the_page_has_them(
    django_assert_num_queries,
):
    """Ensures that a page without mentions or images takes one query to describe, and one
    more for each of the two when a post on it has any."""
    viewer, ann = UserFactory(), UserFactory(username="ann")
    plain = fresh([services.post_create(author=ann, text="plain")])
    with django_assert_num_queries(1):
        selectors.posts_decorate(plain, viewer)
    mentioning = fresh([services.post_create(author=viewer, text="hi @ann")])
    with django_assert_num_queries(2):
        selectors.posts_decorate(mentioning, viewer)
    image = media_create(owner=ann, upload=upload(), description="red")
    both = fresh([services.post_create(author=ann, text="@ann look", media_ids=[image.pk])])
    with django_assert_num_queries(3):
        selectors.posts_decorate(both, viewer)


def test_the_statement_follows_every_change_as_the_orm():
    """Ensures that after each change a page can see — like and unlike, repost and undo, a
    reply, a profile edit, suspension and reinstatement, an image attached, bookmark and
    unbookmark, a delete — the statement describes the page exactly as the ORM does."""
    viewer = UserFactory(username="viewer")
    posts = every_kind(viewer)
    ann = User.objects.get(username="ann")
    bob = User.objects.get(username="bob")
    plain = posts[0]

    def same():
        page = fresh(posts)
        assert [described(p) for p in selectors.posts_decorate(fresh(posts), viewer)] == [
            described(p) for p in orm_load(page, viewer)
        ]

    changes = [
        lambda: services.like_delete(user=viewer, post=plain),
        lambda: services.like_create(user=viewer, post=posts[1]),
        lambda: services.repost_delete(user=viewer, post=posts[1]),
        lambda: services.repost_create(user=viewer, post=plain),
        lambda: posts.append(services.post_create(author=viewer, text="@ann hi", reply_to=plain)),
        lambda: User.objects.filter(pk=ann.pk).update(display_name="Ann", bio="new bio"),
        lambda: user_suspend(user=bob, actor=None, reason="test"),
        lambda: User.objects.filter(pk=bob.pk).update(is_active=True),
        lambda: posts.append(
            services.post_create(
                author=ann,
                text="pictured",
                media_ids=[media_create(owner=ann, upload=upload(), description="x").pk],
            )
        ),
        lambda: bookmark_create(user=viewer, post=plain),
        lambda: Bookmark.objects.filter(user=viewer).delete(),
        lambda: services.post_delete(post=Post.objects.get(pk=plain.pk), actor=ann),
    ]
    same()
    for change in changes:
        change()
        same()


@pytest.fixture
def withheld_rule(monkeypatch):
    """The visibility rule extended (posts whose text says "withheld" are hidden), as a
    future rule change would be: only ``PostQuerySet.visible`` is edited."""
    rule = PostQuerySet.visible

    def visible(self, *, reposts=True):
        return rule(self, reposts=reposts).exclude(text__contains="withheld")

    monkeypatch.setattr(PostQuerySet, "visible", visible)
    page_load._statement.cache_clear()
    yield
    monkeypatch.undo()
    page_load._statement.cache_clear()


def test_the_statement_applies_the_rule_as_the_queryset_states_it(withheld_rule):
    """Ensures that the visibility rule is stated once: extending ``PostQuerySet.visible``
    alone changes what the page statement shows — a reposted or replied-to post the rule
    now hides reads as missing, and the home rule drops it — exactly as the ORM does."""
    viewer, ann = UserFactory(), UserFactory()
    services.follow_create(follower=viewer, followee=ann)
    withheld = services.post_create(author=ann, text="withheld by the new rule")
    reply = services.post_create(author=viewer, text="a reply", reply_to=withheld)
    repost = services.repost_create(user=viewer, post=withheld)
    shown = services.post_create(author=ann, text="shown")
    page = [withheld, reply, repost, shown]
    expected = [described(p) for p in orm_load(fresh(page), viewer)]
    actual = [described(p) for p in selectors.posts_decorate(fresh(page), viewer)]
    assert actual == expected
    by_id = {row["post"]["id"]: row for row in actual}
    assert repost.pk not in by_id  # its original is hidden by the extended rule
    assert by_id[reply.pk]["reply_to"] is None
    ids = [p.pk for p in page]
    home = page_load.page_rows(ids, viewer.pk, home_of=viewer.pk)
    orm_home = selectors.home_posts(viewer_id=viewer.pk).filter(pk__in=ids)
    assert set(home) == set(orm_home.values_list("pk", flat=True))
    assert withheld.pk not in home
    assert {reply.pk, shown.pk} <= set(home)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/St_Johns"])
def test_the_page_cursor_parses_timestamps_as_psycopg_does(zone):
    """Ensures that the page statement's timestamp parser (``datetime.fromisoformat``) gives
    exactly psycopg's datetime — same moment, same time zone object — for every form
    PostgreSQL's ISO output takes (fractions of any length, offsets in hours, minutes and
    seconds, dates near the ends of the range), and hands what it cannot read to psycopg."""
    from zoneinfo import ZoneInfo

    from psycopg import DataError
    from psycopg.types.datetime import TimestamptzLoader

    from feeds.page_load import _iso_timestamps

    loader = TimestamptzLoader(1184)
    loader._timezone = ZoneInfo(zone)
    for text in [
        b"2026-12-01 21:38:00.123456+00",
        b"2026-12-01 21:38:00+00",
        b"2026-12-01 21:38:00.5+05:30",
        b"1900-01-01 00:00:00.01-00:19:32",
        b"0001-01-01 00:00:00+00",
        b"9999-12-31 23:59:59.999999+00",
        b"2026-03-29 01:30:00+01",
    ]:
        ours, theirs = _iso_timestamps(loader, text), TimestamptzLoader._load_iso(loader, text)
        assert (ours, ours.tzinfo, ours.utcoffset()) == (theirs, theirs.tzinfo, theirs.utcoffset())
    with pytest.raises(DataError):
        _iso_timestamps(loader, b"infinity")

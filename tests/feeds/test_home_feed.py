"""Home timelines materialised on write (feeds/home_feed.py, feeds/home_timelines.py): the same
pages as the database query through every kind of change, the floor and the cap, cold readers,
fan-out batches, and Redis going away. Each test runs on a redis-server of its own."""

import shutil
import uuid

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import override_settings

from accounts.moderation import account_visibility_changed, user_suspend
from feeds import selectors
from feeds.home_feed import MARKER, HomeFeed
from feeds.selectors import PageRequest, _load, home_posts, keyset_page
from feeds.services import (
    follow_create,
    follow_delete,
    post_create,
    post_delete,
    repost_create,
    repost_delete,
)
from tests.access.conftest import RedisServer
from tests.conftest import skip_or_fail
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit work runs as in production

CAP = 8


@pytest.fixture(scope="module")
def feed_redis():
    """A redis-server of this module's own (the timelines need sorted sets: real Redis)."""
    if not shutil.which("redis-server"):
        skip_or_fail("these tests start their own redis-server: install the redis-server package")
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def feed(feed_redis, monkeypatch, settings):
    """Materialised timelines on our private Redis, capped at ``CAP`` so tests cross it,
    trimmed at every push (no slack) unless a test says otherwise."""
    settings.HOME_FEED_TRIM_SLACK = 0
    # A transactional test flushes content types; the admin action log of a suspension must
    # not use ids an earlier test's cache remembers.
    ContentType.objects.clear_cache()
    chosen = HomeFeed(
        client=feed_redis.client(), key_prefix=f"t-{uuid.uuid4().hex}", max_entries=CAP
    )
    use_feed(monkeypatch, chosen)
    return chosen


def use_feed(monkeypatch, chosen):
    monkeypatch.setattr("feeds.selectors.home_feed_get", lambda: chosen)
    monkeypatch.setattr("feeds.home_timelines.home_feed_get", lambda: chosen)


def database_page(viewer, page):
    return [p.pk for p in _load(keyset_page(home_posts(viewer_id=viewer.pk), page), viewer)]


def pages_to_check(viewer):
    """Every page a client could ask for: walks down by max_id and up by min_id and
    since_id at several sizes, from every id on the timeline and past both ends."""
    everything = database_page(viewer, PageRequest(limit=1000))
    cursors = [None, *everything, (everything[0] + 1) if everything else 1, 1]
    pages = [PageRequest(limit=limit) for limit in (1, 2, 3, 5, 20)]
    for cursor in cursors:
        if cursor is None:
            continue
        for limit in (1, 3, 5):
            pages.append(PageRequest(max_id=cursor, limit=limit))
            pages.append(PageRequest(min_id=cursor, limit=limit))
            pages.append(PageRequest(since_id=cursor, limit=limit))
        pages.append(PageRequest(since_id=cursor, max_id=cursor + 5, limit=2))
    return pages


def assert_same_as_database(viewer) -> int:
    """Every page from the materialised path equals the database's; returns how many of
    them Redis answered (the rest fell back past the floor)."""
    served = 0
    for page in pages_to_check(viewer):
        expected = database_page(viewer, page)
        got = [p.pk for p in selectors.timeline_home(viewer=viewer, page=page)]
        assert got == expected, f"{page}: {got} != {expected}"
        served += selectors._home_page_materialised(viewer_id=viewer.pk, page=page) is not None
    return served


def test_pages_equal_the_database_through_every_change(feed, settings):
    """Ensures that the materialised home gives exactly the database query's pages (same ids,
    same order) for every cursor and size, across posts, reposts, follow, unfollow, delete,
    suspension and reinstatement, with the cap crossed so deep pages fall back."""
    viewer, bob, carol, dave = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    follow_create(follower=viewer, followee=bob)
    follow_create(follower=viewer, followee=carol)
    assert selectors.timeline_home(viewer=viewer) == []  # cold: rebuilt, empty but materialised
    assert feed.client.zscore(feed.key(viewer.pk), MARKER) == -1  # floor 0: complete
    assert 0 < feed.client.ttl(feed.key(viewer.pk)) <= settings.HOME_FEED_TTL_SECONDS
    for round_ in range(4):
        for author in (bob, carol, dave, viewer):
            post_create(author=author, text=f"{author.username} {round_}")
    dave_post = post_create(author=dave, text="dave's")
    repost_create(user=bob, post=dave_post)
    assert assert_same_as_database(viewer) > 0

    follow_create(follower=viewer, followee=dave)  # merges dave's posts
    assert assert_same_as_database(viewer) > 0
    follow_delete(follower=viewer, followee=carol)  # takes carol's out
    members = set(feed.members(viewer.pk))
    assert not members & set(carol.posts.values_list("id", flat=True))
    assert assert_same_as_database(viewer) > 0

    post_delete(post=bob.posts.filter(repost_of__isnull=True).first(), actor=bob)
    repost_delete(user=bob, post=dave_post)
    assert assert_same_as_database(viewer) > 0

    user_suspend(user=dave, actor=None, reason="test")
    assert not set(feed.members(viewer.pk)) & set(dave.posts.values_list("id", flat=True))
    assert assert_same_as_database(viewer) > 0
    dave.is_active = True
    dave.save(update_fields=["is_active"])
    account_visibility_changed(user_id=dave.pk)  # as the admin's reinstatement does
    assert assert_same_as_database(viewer) > 0

    # Evicted (or never built): the next read is served by the database and rebuilds it.
    feed.forget([viewer.pk])
    assert selectors._home_page_materialised(viewer_id=viewer.pk, page=PageRequest()) is None
    assert feed.client.exists(feed.key(viewer.pk))
    assert assert_same_as_database(viewer) > 0


def test_cap_and_floor(feed):
    """Ensures that a timeline keeps at most the cap, its floor rises with what was trimmed,
    and a page reaching below the floor comes from the database (and is still right)."""
    viewer, author = UserFactory(), UserFactory()
    follow_create(follower=viewer, followee=author)
    selectors.timeline_home(viewer=viewer)  # materialise
    posts = [post_create(author=author, text=f"p{i}").pk for i in range(CAP + 5)]
    members = feed.members(viewer.pk)
    assert members == posts[-CAP:]
    assert feed.client.zscore(feed.key(viewer.pk), MARKER) == -1 - posts[-CAP]
    deep = PageRequest(max_id=posts[-CAP + 1], limit=3)
    assert selectors._home_page_materialised(viewer_id=viewer.pk, page=deep) is None
    assert [p.pk for p in selectors.timeline_home(viewer=viewer, page=deep)] == [
        posts[-CAP],
        *posts[-CAP - 2 : -CAP][::-1],
    ]
    top = PageRequest(limit=3)
    assert [p.pk for p in selectors._home_page_materialised(viewer_id=viewer.pk, page=top)] == (
        posts[::-1][:3]
    )


def test_follow_of_a_prolific_author_raises_the_floor(feed):
    """Ensures that following someone with more posts than the cap merges their newest and
    raises the floor to the oldest merged, so older pages come from the database."""
    viewer, prolific = UserFactory(), UserFactory()
    posts = [post_create(author=prolific, text=f"p{i}").pk for i in range(CAP + 3)]
    selectors.timeline_home(viewer=viewer)  # materialised, empty
    follow_create(follower=viewer, followee=prolific)
    assert feed.members(viewer.pk) == posts[-CAP:]
    assert assert_same_as_database(viewer) > 0


def test_cold_reader_is_not_started_by_a_push(feed):
    """Ensures that fan-out skips readers who were never materialised (no partial sets)."""
    viewer, author = UserFactory(), UserFactory()
    follow_create(follower=viewer, followee=author)
    post_create(author=author, text="hello")
    assert not feed.client.exists(feed.key(viewer.pk))
    assert feed.client.exists(feed.key(author.pk)) == 0  # the author is cold too


@pytest.mark.parametrize("shards", [1, 4])
@override_settings(HOME_FEED_FANOUT_BATCH=2, HOME_FEED_PIPELINE=2)
def test_fanout_is_split_into_batches(feed, settings, shards):
    """Ensures that a post reaches every follower when its fan-out spans several tasks and
    scripts, on one Redis and in the Redis Cluster layout (one script per slot)."""
    settings.ACCESS_LOG_SHARDS = shards
    author = UserFactory()
    followers = [UserFactory() for _ in range(7)]
    for follower in followers:
        follow_create(follower=follower, followee=author)
        selectors.timeline_home(viewer=follower)
    post = post_create(author=author, text="to everyone")
    for follower in followers:
        assert feed.members(follower.pk) == [post.pk]


def test_redis_down_serves_the_database(monkeypatch):
    """Ensures that with the timelines' Redis stopped, home pages come from the database and
    writes still succeed: no exception reaches the reader or the writer."""
    if not shutil.which("redis-server"):
        skip_or_fail("this test starts its own redis-server: install the redis-server package")
    server = RedisServer()
    try:
        feed = HomeFeed(client=server.client(), key_prefix="down", max_entries=CAP)
        use_feed(monkeypatch, feed)
        viewer, author = UserFactory(), UserFactory()
        follow_create(follower=viewer, followee=author)
        selectors.timeline_home(viewer=viewer)
        first = post_create(author=author, text="before")
        assert feed.members(viewer.pk) == [first.pk]
        server.stop()
        second = post_create(author=author, text="after")  # its fan-out fails, logged
        page = [p.pk for p in selectors.timeline_home(viewer=viewer)]
        assert page == [second.pk, first.pk]
    finally:
        server.stop()


def test_api_home_is_identical_with_and_without_materialised_timelines(
    feed, monkeypatch, seeded_rows
):
    """Ensures that the API's home pages — bodies and pagination Link headers — are the same
    from Redis as from the database."""
    from tests.api.conftest import make_caller

    caller = make_caller()
    authors = [UserFactory() for _ in range(3)]
    for author in authors:
        follow_create(follower=caller.user, followee=author)
    for i in range(6):
        post = post_create(author=authors[i % 3], text=f"post {i}")
    repost_create(user=authors[0], post=post)
    caller.client.get("/api/v1/timelines/home")  # materialises

    def fetch(query):
        response = caller.client.get(f"/api/v1/timelines/home{query}")
        assert response.status_code == 200
        return response.json(), response.get("Link")

    queries = ["", "?limit=2", f"?limit=2&max_id={post.pk}", f"?min_id={post.pk - 3}&limit=2"]
    from_redis = [fetch(query) for query in queries]
    use_feed(monkeypatch, None)
    from_database = [fetch(query) for query in queries]
    assert from_redis == from_database


def test_pushes_trim_once_past_the_slack(feed, settings):
    """Ensures that a push trims only once the set is ``HOME_FEED_TRIM_SLACK`` over the cap,
    then back to the cap, and that pages stay identical to the database's meanwhile."""
    settings.HOME_FEED_TRIM_SLACK = 3
    viewer, author = UserFactory(), UserFactory()
    follow_create(follower=viewer, followee=author)
    selectors.timeline_home(viewer=viewer)
    posts = [post_create(author=author, text=f"p{i}").pk for i in range(CAP + 3)]
    assert feed.members(viewer.pk) == posts  # within the slack: nothing trimmed yet
    assert assert_same_as_database(viewer) > 0
    posts.append(post_create(author=author, text="one more").pk)
    assert feed.members(viewer.pk) == posts[-CAP:]
    assert assert_same_as_database(viewer) > 0


def test_scripts_add_more_ids_than_one_zadd_takes(feed_redis):
    """Ensures that a rebuild and a merge of more ids than one batched ZADD holds (500) add
    every one of them, each scored by its own id, and trim to the cap from the newest."""
    big = HomeFeed(client=feed_redis.client(), key_prefix=f"t-{uuid.uuid4().hex}", max_entries=2000)
    big.rebuild_begin(1)
    big.rebuild_finish(1, list(range(1, 1201)), complete=True)
    assert big.members(1) == list(range(1, 1201))
    big.push([1], list(range(1201, 2301)))  # a merge: 1,100 ids, past the cap of 2,000
    assert big.members(1) == list(range(301, 2301))
    scores = big.client.zrangebyscore(big.key(1), "(0", "+inf", withscores=True)
    assert all(int(member) == int(score) for member, score in scores)


def test_a_materialised_page_is_decided_and_described_by_one_query(feed, django_assert_num_queries):
    """Ensures that a home page from the materialised timeline costs one query (the statement
    that applies the home and visibility rules to the candidates and describes them), against
    two from the database (the page, then the statement), for the same page."""
    viewer, bob = UserFactory(), UserFactory()
    follow_create(follower=viewer, followee=bob)
    selectors.timeline_home(viewer=viewer)  # cold: rebuilt
    for n in range(CAP - 2):
        post_create(author=bob, text=f"bob {n}")
    with django_assert_num_queries(1):
        materialised = selectors.timeline_home(viewer=viewer, page=PageRequest(limit=4))
    assert selectors._home_page_materialised(viewer_id=viewer.pk, page=PageRequest(limit=4))
    with django_assert_num_queries(2):
        expected = database_page(viewer, PageRequest(limit=4))
    assert [p.pk for p in materialised] == expected

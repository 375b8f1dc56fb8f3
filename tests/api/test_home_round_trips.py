"""Tests for the warm home timeline's Redis round trips: the token check and the first read of
the materialised timeline share one pipeline (``accounts.auth_cache.AlongsideReads``,
``feeds.home_feed.HomeFeedFirstRead``), and what comes back is still exactly the page."""

from contextlib import contextmanager

import pytest
from django.test import override_settings

from accounts.models import User
from accounts.services import token_revoke
from feeds import services as feeds_services
from feeds.home_feed import FeedSlice, HomeFeed, HomeFeedFirstRead, home_feed_slices_given
from feeds.home_timelines import home_feed_fanout, home_feed_rebuild
from tests.api.conftest import make_caller
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOME = "/api/v1/timelines/home"


@pytest.fixture(autouse=True)
def _no_request_rate_counters(settings):
    """Request-rate limits off, as ``make bench`` runs: each of their counters is a round
    trip of its own (django-ratelimit), not what these tests count."""
    settings.RATELIMIT_ENABLE = False


@contextmanager
def redis_round_trips():
    """Counts Redis round trips: each command sent on its own, and each pipeline as one."""
    import redis
    from redis.client import Pipeline

    counted: list[str] = []
    command, pipeline = redis.Redis.execute_command, Pipeline.execute

    def one_command(self, *args, **kwargs):
        counted.append(str(args[0]))
        return command(self, *args, **kwargs)

    def one_pipeline(self, *args, **kwargs):
        counted.append("pipeline:" + ",".join(str(c[0][0]) for c in self.command_stack))
        return pipeline(self, *args, **kwargs)

    redis.Redis.execute_command, Pipeline.execute = one_command, one_pipeline
    try:
        yield counted
    finally:
        redis.Redis.execute_command, Pipeline.execute = command, pipeline


@pytest.fixture
def warm_reader(require_redis):
    """A reader following someone with posts, their timeline materialised, their token cached
    in this process (two requests made)."""
    caller = make_caller(username="rita")
    author = UserFactory(username="otto")
    feeds_services.follow_create(follower=caller.user, followee=author)
    for number in range(5):
        feeds_services.post_create(author=author, text=f"post {number}")
    home_feed_rebuild(user_id=caller.user.pk)
    for _ in range(2):
        assert caller.client.get(HOME).status_code == 200
    return caller


def test_a_warm_home_page_is_two_redis_round_trips(warm_reader):
    """Ensures that a warm home request makes two Redis round trips: the token's generations
    with the timeline's first slice in one pipeline, then the read gate's script."""
    with redis_round_trips() as trips:
        response = warm_reader.client.get(HOME)
    assert response.status_code == 200
    assert len(response.json()) == 5
    assert len(trips) == 2, trips
    assert trips[0] == "pipeline:MGET,ZSCORE,ZREVRANGEBYSCORE"
    assert trips[1] == "EVALSHA"


def test_the_page_is_the_same_with_and_without_the_shared_round_trip(warm_reader, monkeypatch):
    """Ensures that the slice read with the token check gives exactly the page (bytes and
    cursors) the selector's own read gives, for the first page and for a cursor's page."""
    first = warm_reader.client.get(HOME)
    older = warm_reader.client.get(HOME, {"max_id": first.json()[1]["id"], "limit": 2})
    monkeypatch.setattr("api.views.timelines.HomeTimelineView.auth_alongside", lambda *a: None)
    with redis_round_trips() as trips:
        again = warm_reader.client.get(HOME)
    assert trips[0] == "MGET" and "pipeline:ZSCORE,ZREVRANGEBYSCORE" in trips
    assert again.content == first.content
    assert again["Link"] == first["Link"]
    older_again = warm_reader.client.get(HOME, {"max_id": first.json()[1]["id"], "limit": 2})
    assert older_again.content == older.content
    assert [s["id"] for s in older.json()] == [s["id"] for s in first.json()[2:4]]


def test_a_revoked_token_gets_nothing_from_the_shared_round_trip(warm_reader):
    """Ensures that the slice read alongside a token that was revoked meanwhile is never used:
    the request is refused (401) on the very next request."""
    token_revoke(token=warm_reader.token)
    response = warm_reader.client.get(HOME)
    assert response.status_code == 401


def test_new_posts_appear_on_the_next_warm_request(warm_reader):
    """Ensures that the slice read alongside the token check is the set as it is now: a post
    pushed since the last request is on the next page."""
    author = User.objects.get(username="otto")
    post = feeds_services.post_create(author=author, text="just now")
    home_feed_fanout(post_id=post.pk)  # on commit in production; this test's is never
    with redis_round_trips() as trips:
        response = warm_reader.client.get(HOME)
    assert response.json()[0]["id"] == str(post.pk)
    # Read with the token check (the rest is the render cache filling for the new counts).
    assert trips[0] == "pipeline:MGET,ZSCORE,ZREVRANGEBYSCORE"


def test_slices_read_for_someone_else_are_ignored():
    """Ensures that a slice is handed only to reads for the user it was read for, once, and
    only inside the block."""
    feed = HomeFeed(client=_NoRedis(), key_prefix="t", max_entries=10)
    read = HomeFeedFirstRead(feed, above=0, below=None, ascending=False, count=30)
    read.user_id, read.slice = 7, FeedSlice(floor=0, ids=[3, 2, 1])
    arguments = {"above": 0, "below": None, "ascending": False, "count": 30}
    with home_feed_slices_given([read], user_id=8), pytest.raises(_NoRedis.Used):
        feed.read(8, **arguments)
    with home_feed_slices_given([read], user_id=7):
        assert feed.read(7, **arguments).ids == [3, 2, 1]
        with pytest.raises(_NoRedis.Used):  # each slice answers one read
            feed.read(7, **arguments)
    with pytest.raises(_NoRedis.Used):
        feed.read(7, **arguments)


@override_settings(HOME_FEED="off")
def test_no_shared_round_trip_without_materialised_timelines(require_redis):
    """Ensures that with timelines off the token check is its plain one-command look-up."""
    caller = make_caller(username="tess")
    for _ in range(2):
        assert caller.client.get(HOME).status_code == 200
    with redis_round_trips() as trips:
        assert caller.client.get(HOME).status_code == 200
    assert trips == ["MGET", "EVALSHA"]


class _NoRedis:
    """A client whose every use fails the test: the read must be answered without Redis."""

    class Used(Exception):
        pass

    def register_script(self, script):
        return None

    def pipeline(self, **kwargs):
        raise self.Used

"""Tests for shallow pages: the API's status lists described by digests (feeds.page_load).

On PostgreSQL a timeline page reads of each post only what the gate and the per-viewer
fields need, plus a digest of every column its status shows; statuses come from the render
cache by that digest, and only the ones it lacks are described in full. The byte-for-byte
rule (tests/api/test_render_cache.py) covers every surface and change; these pin what is
particular to the shallow path: a warm page reads no wide row, a state that changed between
the two reads is served but not stored, and a post deleted in between is left out.
"""

import pytest
from django.core.cache import caches

from core.render_cache import local_entries
from feeds import selectors, services
from feeds.models import Post
from tests.api.test_render_cache import client_for, uncached
from tests.render_world import World, world_build

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("require_postgres")]

HOME = "/api/v1/timelines/home"
SHALLOW_SURFACES = (
    "/api/v1/timelines/home",
    "/api/v1/timelines/public",
    "/api/v1/timelines/tag/django",
)


@pytest.fixture(autouse=True)
def _render_cache_empty():
    caches["render"].clear()
    local_entries.clear()
    yield
    caches["render"].clear()
    local_entries.clear()


@pytest.fixture
def world(django_capture_on_commit_callbacks) -> World:
    with django_capture_on_commit_callbacks(execute=True):
        return world_build()


def _describing(monkeypatch) -> list[list[int]]:
    """The ids each full description (``posts_described``) was asked for."""
    calls: list[list[int]] = []
    real = selectors.posts_described

    def spy(posts):
        calls.append(sorted(post.pk for post in posts))
        return real(posts)

    monkeypatch.setattr("api.entities.posts_described", spy)
    return calls


def test_a_warm_page_describes_no_post_in_full(monkeypatch, world):
    """Ensures that a cold page describes in full the statuses it renders, in one
    statement; that another surface showing the same posts finds them by the same digests;
    and that a warm page describes none: its page statement reads no post text."""
    calls = _describing(monkeypatch)
    client = client_for(world)
    for path in SHALLOW_SURFACES:
        assert client.get(path).status_code == 200
    # Home shows every post the public and tag timelines show: one description in all.
    assert len(calls) == 1 and world.original.pk in calls[0]
    calls.clear()
    local_entries.clear()  # from the shared cache, as another process would
    described = []
    real = selectors.page_rows
    monkeypatch.setattr(
        selectors,
        "page_rows",
        lambda *args, **kwargs: described.append(kwargs.get("shallow")) or real(*args, **kwargs),
    )
    for path in SHALLOW_SURFACES:
        assert client.get(path).status_code == 200
    assert described and all(described)  # every page described by shallow rows
    assert calls == []  # and none in full


def test_shallow_pages_are_the_uncached_bytes_on_each_surface(settings, world):
    """Ensures that the shallow path (timelines, account statuses, a thread's context)
    answers exactly what the full, uncached path renders, cold and warm."""
    client = client_for(world)
    paths = [
        *SHALLOW_SURFACES,
        f"/api/v1/accounts/{world.ann.pk}/statuses",
        f"/api/v1/statuses/{world.reply.pk}/context",
        f"/api/v1/statuses/{world.original.pk}/context",
        f"/api/v1/statuses/{world.repost.pk}/context",  # a repost's thread is its original's
    ]
    for path in paths:
        expected = uncached(settings, client, path)
        assert client.get(path).content == expected, path
        assert client.get(path).content == expected, path


def test_a_change_between_the_two_reads_is_served_but_not_stored(settings, monkeypatch, world):
    """Ensures that when a post changes between the shallow read and its full description
    (here: a like lands), the page shows the newer state, and the rendering is not stored
    under the older state's key: once the like is taken back, the page shows the old count
    again, exactly as the uncached path does."""
    client = client_for(world)
    real = selectors.posts_described
    liked = []

    def like_in_between(posts):
        if not liked:
            liked.append(services.like_create(user=world.vera, post=world.original))
        return real(posts)

    monkeypatch.setattr("api.entities.posts_described", like_in_between)
    before = Post.objects.get(pk=world.original.pk).likes_count
    statuses = {s["id"]: s for s in client.get(HOME).json()}
    assert statuses[str(world.original.pk)]["favourites_count"] == before + 1
    services.like_delete(user=world.vera, post=world.original)
    monkeypatch.setattr("api.entities.posts_described", real)
    assert client.get(HOME).content == uncached(settings, client, HOME)
    statuses = {s["id"]: s for s in client.get(HOME).json()}
    assert statuses[str(world.original.pk)]["favourites_count"] == before


def test_a_post_deleted_between_the_two_reads_is_left_out(monkeypatch, world):
    """Ensures that a post deleted after the page was read but before its status was
    described is left out of the answer (never a 500 or an empty status)."""
    client = client_for(world)
    real = selectors.posts_described

    def delete_in_between(posts):
        services.post_delete(post=world.own, actor=world.viewer)
        return real(posts)

    monkeypatch.setattr("api.entities.posts_described", delete_in_between)
    response = client.get(HOME)
    assert response.status_code == 200
    ids = [status["id"] for status in response.json()]
    assert str(world.own.pk) not in ids
    assert str(world.original.pk) in ids

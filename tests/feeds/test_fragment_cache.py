"""Tests for web post fragments rendered once (feeds_tags.post_parts and core.render_cache).

The rule: every page that shows posts renders exactly the same HTML with the cache cold, warm
or off, before and after each change that alters a post's head or body; the time and the
buttons stay per request; the gate still sees every post; Redis down means uncached.
"""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import caches
from django.db import connection
from django.template import Context, Template
from django.test import Client
from django.test.utils import CaptureQueriesContext

from access.delivered import UngatedPostError
from accounts.moderation import user_suspend
from accounts.profiles import profile_update
from core.render_cache import local_entries
from feeds import services
from feeds.forms import PostForm
from feeds.media import media_create
from feeds.templatetags.feeds_tags import composer_fields
from tests.api.test_cache_outage import BrokenCache
from tests.media_helpers import upload
from tests.render_world import World, world_build

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
# The reader's meter (posts left today) changes as pages are read; the posts must not.
METER = re.compile(r'<[^>]*class="[^"]*meter[^"]*"[^>]*>.*?</[a-z]+>', re.S)


@pytest.fixture(autouse=True)
def _render_cache_empty():
    caches["render"].clear()
    local_entries.clear()
    yield
    caches["render"].clear()
    local_entries.clear()


@pytest.fixture
def world(django_capture_on_commit_callbacks) -> World:
    # Notifications are written after commit: run those callbacks.
    with (
        time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        world = world_build()
        # Images: signed URLs, an escaped description, one without (the default alt text).
        images = [
            media_create(owner=world.ann, upload=upload(), description='a red "square" <&>'),
            media_create(owner=world.ann, upload=upload(), description=""),
        ]
        services.post_create(author=world.ann, text="pics", media_ids=[m.pk for m in images])
        return world


@pytest.fixture
def viewer_client(world) -> Client:
    client = Client()
    client.force_login(world.viewer)
    return client


def pages(world: World) -> list[str]:
    return [
        "/",
        "/public/",
        "/@ann/",
        "/@bob/",
        "/@viewer/",
        f"/posts/{world.reply.pk}/",
        f"/posts/{world.orphan_reply.pk}/",
        "/notifications/",
        "/bookmarks/",
        "/favourites/",
        "/tags/django/",
    ]


def posts_html(response) -> str:
    """The page's posts, without what differs on every render (CSRF tokens)."""
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    assert "<article" in html
    start, end = html.index("<main"), html.rindex("</main>")
    return CSRF.sub("csrf", METER.sub("meter", html[start:end]))


def get(client, path, settings=None, *, cache_on=True):
    if settings is not None:
        settings.RENDER_CACHE = cache_on
    try:
        with time_machine.travel(datetime(2026, 11, 30, 13, 0, tzinfo=UTC), tick=False):
            return posts_html(client.get(path))
    finally:
        if settings is not None:
            settings.RENDER_CACHE = True


def test_cached_fragments_are_the_uncached_html_on_every_page(settings, world, viewer_client):
    """Ensures that every web page with posts renders the same HTML uncached, cold and warm:
    originals, replies (one to a deleted post), reposts, mentions and hashtags, a verified
    author, the viewer's own post with its Delete button, liked, reposted and bookmarked
    posts; the suspended author's post stays out."""
    for path in pages(world):
        expected = get(viewer_client, path, settings, cache_on=False)
        assert get(viewer_client, path) == expected, f"cold differs on {path}"
        assert get(viewer_client, path) == expected, f"warm differs on {path}"
    home = get(viewer_client, "/")
    assert "soon suspended" not in home
    assert "badge-verified" in home and "♥ Liked" in home and "★ Bookmarked" in home
    assert "an hour ago" in home
    assert 'title="a red &quot;square&quot; &lt;&amp;&gt;"' in home
    assert 'alt="Image without a description"' in home
    assert "Delete</button>" in get(viewer_client, "/@viewer/")


def test_logged_out_readers_get_the_same_shared_parts(settings, world):
    """Ensures that a logged-out reader (no buttons) gets exactly the uncached page from the
    entries a logged-in reader filled."""
    viewer = Client()
    viewer.force_login(world.viewer)
    get(viewer, "/public/")
    anonymous = Client()
    assert get(anonymous, "/public/") == get(anonymous, "/public/", settings, cache_on=False)


@pytest.mark.parametrize(
    "change", ["like", "reply", "display_name", "verified", "suspend", "delete", "mention"]
)
def test_every_change_shows_on_the_next_cached_page(settings, world, viewer_client, change):
    """Ensures that after a change to what a fragment shows (counts, names, badge, a
    suspension or deletion, a mentioned account going away) the warm cache still renders
    exactly the uncached page."""
    for path in pages(world):
        get(viewer_client, path)
    if change == "like":
        services.like_create(user=world.bob, post=world.original)
    elif change == "reply":
        services.post_create(author=world.vera, text="another", reply_to=world.original)
    elif change == "display_name":
        profile_update(user=world.ann, display_name="Ann Renamed")
    elif change == "verified":
        world.ann.is_verified = True
        world.ann.save()
    elif change == "suspend":
        user_suspend(user=world.vera, actor=None, reason="spam")
    elif change == "delete":
        services.post_delete(post=world.own, actor=world.viewer)
    elif change == "mention":
        user_suspend(user=world.bob, actor=None, reason="spam")  # @bob no longer links
    for path in pages(world):
        if change == "mention" and ("@bob" in path or str(world.reply.pk) in path):
            continue
        if change == "mention" and str(world.orphan_reply.pk) in path:
            continue
        assert get(viewer_client, path) == get(viewer_client, path, settings, cache_on=False), (
            change,
            path,
        )


def test_the_gate_check_stays_on_the_cached_path(rf, world, viewer_client):
    """Ensures that a template showing a post the gate did not deliver raises
    ``UngatedPostError`` even when that post's parts are cached."""
    get(viewer_client, "/")  # caches the fragments
    request = rf.get("/")
    request.user = world.viewer
    template = Template("{% load feeds_tags %}{% post_parts_warm posts %}")
    with pytest.raises(UngatedPostError):
        template.render(Context({"request": request, "posts": [world.original]}))


def test_a_warm_home_page_renders_without_extra_queries(settings, world, viewer_client):
    """Ensures that the web home page's queries do not grow with the render cache, warm or
    cold (the fragments are built from the rows the page loaded), and that a warm page runs
    only the timeline's own queries: the session's user and tier and the unread count come
    from the cache."""

    def queries():
        with CaptureQueriesContext(connection) as captured:
            get(viewer_client, "/")
        return [q["sql"] for q in captured.captured_queries]

    settings.RENDER_CACHE = False
    queries()
    off = queries()
    settings.RENDER_CACHE = True
    queries()  # the session's user and the unread count are cached
    # Only the rendered fragments go: with Redis, clear() would flush the session cache too.
    render = caches["render"]
    render.delete_pattern("r:*") if hasattr(render, "delete_pattern") else render.clear()
    local_entries.clear()
    cold = queries()
    warm = queries()
    assert len(cold) == len(warm)
    # Saved: the user, the tier and the unread count. The session is read from Redis with
    # or without RENDER_CACHE (cached_db), and from the database without Redis.
    assert len(off) - len(warm) == 3, "\n".join(warm)
    assert not any('"accounts_tier"' in sql or '"feeds_notification"' in sql for sql in warm)
    assert any('"django_session"' in sql for sql in warm) == (not settings.REDIS_URL)


def test_redis_down_renders_uncached(monkeypatch, settings, world, viewer_client):
    """Ensures that with the render cache unreachable every page still renders the uncached
    HTML (never a 500)."""
    expected = {path: get(viewer_client, path, settings, cache_on=False) for path in pages(world)}
    monkeypatch.setattr("core.render_cache.caches", {"render": BrokenCache()})
    for path, html in expected.items():
        assert get(viewer_client, path) == html


def test_a_warm_page_builds_no_fragment(monkeypatch, world, viewer_client):
    """Ensures that the second render of a page takes every head and body from the cache."""
    expected = get(viewer_client, "/")

    def fail(post):
        raise AssertionError(f"post {post.pk} rendered again")

    monkeypatch.setattr("feeds.templatetags.feeds_tags._fragment_build", fail)
    assert get(viewer_client, "/") == expected


@pytest.mark.parametrize("counter_id", ["composer-count", "reply-count"])
def test_the_remembered_composer_fields_are_the_rendered_ones(settings, counter_id):
    """Ensures that the composer's fields kept from an earlier unbound form are exactly what
    the template renders for a new one, that a changed setting makes new ones, and that a
    bound form (its errors shown) is always rendered."""
    expected = Template("{% include 'feeds/_composer_fields.html' %}")
    for _ in range(2):
        form = PostForm(counter_id=counter_id)
        assert composer_fields(form) == expected.render(Context({"form": form}))
    settings.POST_MAX_CHARACTERS = 42
    assert 'data-max-chars="42"' in composer_fields(PostForm(counter_id=counter_id))
    bound = PostForm({"text": "x"}, counter_id=counter_id)
    bound.is_valid()
    bound.add_error("text", "That post is too long.")
    assert composer_fields(bound) == expected.render(Context({"form": bound}))
    assert "That post is too long." in composer_fields(bound)

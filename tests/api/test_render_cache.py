"""Tests for statuses rendered once (core.render_cache through api.entities.EntityBuilder).

The rule: what a cached page sends is byte for byte what the uncached path renders, for every
kind of post and every surface, before and after each change that alters a status; the
per-viewer fields are the viewer's; the gate still sees every post; a warm page costs fewer
queries; Redis down means uncached, never a 500.
"""

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from access.delivered import UngatedPostError
from accounts.ai_training import user_ai_training_set
from accounts.moderation import user_suspend
from accounts.profiles import profile_update
from api.entities import EntityBuilder
from core.render_cache import local_entries
from feeds import services
from feeds.bookmarks import bookmark_create
from feeds.models import Post
from feeds.selectors import PageRequest, timeline_home
from tests.api.test_cache_outage import BrokenCache
from tests.render_world import World, world_build

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _render_cache_empty():
    caches["render"].clear()
    local_entries.clear()
    yield
    caches["render"].clear()
    local_entries.clear()


@pytest.fixture
def world(django_capture_on_commit_callbacks) -> World:
    with django_capture_on_commit_callbacks(execute=True):  # notifications come after commit
        return world_build()


def client_for(world: World, host: str = "testserver") -> APIClient:
    client = APIClient(HTTP_HOST=host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.raw_token}")
    return client


def surfaces(world: World) -> list[str]:
    """Every API route that answers with statuses."""
    return [
        "/api/v1/timelines/home",
        "/api/v1/timelines/public",
        f"/api/v1/accounts/{world.ann.pk}/statuses",
        f"/api/v1/accounts/{world.bob.pk}/statuses",
        f"/api/v1/statuses/{world.original.pk}",
        f"/api/v1/statuses/{world.repost.pk}",
        f"/api/v1/statuses/{world.reply.pk}/context",
        "/api/v1/timelines/tag/django",
        "/api/v1/bookmarks",
        "/api/v1/favourites",
        "/api/v1/notifications",
        "/api/v2/search?q=%23django&type=statuses",
    ]


def uncached(settings, client: APIClient, path: str) -> bytes:
    settings.RENDER_CACHE = False
    try:
        response = client.get(path)
    finally:
        settings.RENDER_CACHE = True
    assert response.status_code == 200, (path, response.content)
    return response.content


def cached(client: APIClient, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, (path, response.content)
    return response.content


def assert_same_everywhere(settings, world: World) -> None:
    client = client_for(world)
    for path in surfaces(world):
        expected = uncached(settings, client, path)
        assert cached(client, path) == expected, f"cold cache differs on {path}"
        assert cached(client, path) == expected, f"warm cache differs on {path}"


def test_cached_statuses_are_the_uncached_bytes_on_every_surface(settings, world):
    """Ensures that every surface answers with exactly the uncached bytes, cold and warm, for
    originals, replies (one to a deleted post), reposts, mentions and hashtags, a verified
    author who allows AI training, the viewer's own post and posts the viewer liked, reposted
    and bookmarked, and that a suspended author's posts stay out."""
    assert_same_everywhere(settings, world)
    home = cached(client_for(world), "/api/v1/timelines/home").decode()
    assert "soon suspended" not in home
    statuses = client_for(world).get("/api/v1/timelines/home").json()
    by_id = {status["id"]: status for status in statuses}
    assert by_id[str(world.original.pk)]["favourited"] is True
    assert by_id[str(world.original.pk)]["bookmarked"] is True
    assert by_id[str(world.original.pk)]["tags"] == [
        {"name": "django", "url": "http://testserver/tags/django/"},
        {"name": "cache", "url": "http://testserver/tags/cache/"},
    ]
    assert by_id[str(world.repost.pk)]["reblog"]["account"]["verified"] is True
    assert by_id[str(world.repost.pk)]["reblog"]["content_usage"] == "train-ai=y"


@pytest.mark.parametrize(
    "change",
    [
        "like",
        "unlike",
        "repost",
        "reply",
        "delete",
        "display_name",
        "bio",
        "avatar",
        "header",
        "verified",
        "ai_training",
        "suspend",
        "follow",
        "bookmark",
    ],
)
def test_every_change_shows_on_the_next_cached_page(settings, world, change):
    """Ensures that after each change that alters a status (counts, the author's profile and
    badge, the AI-training choice, deletion, suspension) or only the viewer's flags, the warm
    cache still answers exactly what the uncached path renders."""
    client = client_for(world)
    for path in surfaces(world):
        cached(client, path)  # warm every entry with the old state
    viewer, ann, vera = world.viewer, world.ann, world.vera
    if change == "like":
        services.like_create(user=world.bob, post=world.original)
    elif change == "unlike":
        services.like_delete(user=viewer, post=world.original)
    elif change == "repost":
        services.repost_create(user=ann, post=world.reply)
    elif change == "reply":
        services.post_create(author=vera, text="a reply", reply_to=world.original)
    elif change == "delete":
        services.post_delete(post=world.reply, actor=world.bob)
    elif change == "display_name":
        profile_update(user=ann, display_name="Ann Renamed")
    elif change == "bio":
        profile_update(user=ann, bio="new #bio")
    elif change == "avatar":
        ann.avatar = "avatars/ann.png"
        ann.save()
    elif change == "header":
        ann.header = "headers/ann.png"
        ann.save()
    elif change == "verified":
        ann.is_verified = True
        ann.save()
        vera.is_verified = False
        vera.save()
    elif change == "ai_training":
        user_ai_training_set(user=ann, choice="allow")
    elif change == "suspend":
        user_suspend(user=world.bob, actor=None, reason="spam")
    elif change == "follow":
        services.follow_create(follower=vera, followee=ann)
    elif change == "bookmark":
        bookmark_create(user=viewer, post=world.reply)
    paths = surfaces(world)
    if change in ("delete", "suspend"):
        paths = [p for p in paths if str(world.reply.pk) not in p and str(world.repost.pk) not in p]
        paths = [p for p in paths if not (change == "suspend" and str(world.bob.pk) in p)]
    for path in paths:
        assert cached(client, path) == uncached(settings, client, path), (change, path)


def test_absolute_urls_follow_the_request_host(settings, world):
    """Ensures that a status cached for one host is never served to a request for another:
    the host is part of the key."""
    path = "/api/v1/timelines/home"
    settings.ALLOWED_HOSTS = ["testserver", "other.example"]
    first = cached(client_for(world), path)
    second = cached(client_for(world, host="other.example"), path)
    assert b"http://other.example/" in second and b"http://testserver/" not in second
    assert second == uncached(settings, client_for(world, host="other.example"), path)
    assert first != second


def test_a_second_reader_gets_their_own_flags_from_shared_entries(settings, world):
    """Ensures that the shared entries carry no viewer's flags: another reader of the same
    statuses sees their own (none), exactly as uncached."""
    from tests.api.conftest import make_caller

    other = make_caller(username="other")
    services.follow_create(follower=other.user, followee=world.ann)
    path = f"/api/v1/accounts/{world.ann.pk}/statuses"
    mine = client_for(world).get(path).json()
    theirs = other.client.get(path)
    assert theirs.content == uncached(settings, other.client, path)
    assert any(status["favourited"] for status in mine)
    assert not any(status["favourited"] or status["bookmarked"] for status in theirs.json())


def test_the_gate_check_stays_on_the_cached_path(rf, world):
    """Ensures that building a status for a post the gate did not deliver raises
    ``UngatedPostError`` whether or not its rendering is cached."""
    client_for(world).get("/api/v1/timelines/home")  # caches the entries
    request = rf.get("/api/v1/timelines/home")
    request.user = world.viewer
    posts = timeline_home(viewer=world.viewer, page=PageRequest(limit=20))
    stranger = next(post for post in posts if post.author_id != world.viewer.pk)
    with pytest.raises(UngatedPostError):
        EntityBuilder(request).statuses([stranger])


def home_queries(client: APIClient) -> list[str]:
    """The SQL of one home request, without the read gate's own (the ledger and the access
    log, whose count depends on the ledger backend and is pinned by tests/access)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/timelines/home").status_code == 200
    return [
        query["sql"]
        for query in queries.captured_queries
        if '"access_' not in query["sql"] and "SAVEPOINT" not in query["sql"]
    ]


def test_a_warm_home_page_costs_fewer_queries(settings, world):
    """Ensures the query counts of the home timeline from the database: with the caches off,
    the token and the tier are looked up (6 queries besides the gate's); warm, only the page's
    4 remain (whom the reader follows — they follow few, so the page query names them — the
    page's posts, the one statement describing them — originals, reply targets, authors, the
    viewer's flags — and the mentions, which this page has) — no token, user or tier query,
    and building the statuses costs none. On PostgreSQL the warm page is shallow
    (tests/api/test_shallow_pages.py): its statuses come by digest, so no mention query."""
    client = client_for(world)
    settings.RENDER_CACHE = False
    home_queries(client)
    off = home_queries(client)
    settings.RENDER_CACHE = True
    home_queries(client)  # fills both caches
    warm = home_queries(client)
    assert (len(off), len(warm)) == (6, 3 if connection.vendor == "postgresql" else 4)
    assert not [sql for sql in warm if '"accounts_apitoken"' in sql or '"accounts_tier"' in sql]


def test_redis_down_renders_uncached(monkeypatch, settings, world):
    """Ensures that with the render cache unreachable every surface still answers 200 with
    the uncached bytes (never a 500)."""
    client = client_for(world)
    expected = {path: uncached(settings, client, path) for path in surfaces(world)}
    monkeypatch.setattr("core.render_cache.caches", {"render": BrokenCache()})
    for path, body in expected.items():
        assert cached(client, path) == body


def test_a_warm_page_builds_no_status(monkeypatch, world):
    """Ensures that the second request for a page takes every shared status from the cache:
    from the shared cache in one look-up when this process has not kept them, and then from
    this process's memory with no look-up at all."""
    client = client_for(world)
    expected = cached(client, "/api/v1/timelines/home")

    def fail(self, post):
        raise AssertionError(f"post {post.pk} rendered again")

    monkeypatch.setattr(EntityBuilder, "_shared_status", fail)
    calls = []
    real = caches["render"].get_many
    monkeypatch.setattr(caches["render"], "get_many", lambda keys: calls.append(keys) or real(keys))
    local_entries.clear()
    assert cached(client, "/api/v1/timelines/home") == expected
    assert len(calls) == 1
    assert cached(client, "/api/v1/timelines/home") == expected
    assert len(calls) == 1


def _with_viewer_fields(entity: dict, fields: dict) -> dict:
    """``entity`` with the per-viewer ``fields`` (by place, ``reblog.favourited``) set, as
    the page's old copy-and-decorate step built it."""
    data = {**entity, "account": dict(entity["account"])}
    if entity["reblog"] is not None:
        data["reblog"] = {**entity["reblog"]}
    for place, value in fields.items():
        target = data
        *path, name = place.split(".")
        for step in path:
            target = target[step]
        target[name] = value
    return data


@pytest.fixture
def media_world(settings, tmp_path, world):
    """The world with an image: the viewer's own post carrying one, reposted by vera."""
    from tests.media_helpers import upload

    settings.MEDIA_ROOT = str(tmp_path / "media")
    client = client_for(world)
    media = client.post("/api/v2/media", {"file": upload()}, format="multipart").json()
    posted = client.post(
        "/api/v1/statuses", {"status": "a picture #cache", "media_ids": [media["id"]]}
    ).json()
    services.repost_create(user=world.vera, post=Post.objects.get(pk=posted["id"]))
    return world


@pytest.mark.parametrize("render_cache", [False, True])
def test_encoded_statuses_are_the_entities_with_the_viewers_fields(
    rf, settings, media_world, render_cache
):
    """Ensures that a status joined from its cached bytes is exactly ``orjson.dumps`` of its
    shared entity with the viewer's flags and media put in place, for every kind of post on
    the home page (original, reply, repost, mentions, images in a post and in a reposted
    original, the viewer's likes, reposts and bookmarks), cache on and off, cold and warm."""
    import orjson

    from access.delivered import delivered_ids_add

    settings.RENDER_CACHE = render_cache
    viewer = media_world.viewer
    posts = timeline_home(viewer=viewer, page=PageRequest(limit=40))
    assert any(post.repost_of_id and post.repost_of.media for post in posts)
    assert any(getattr(post, "media", None) for post in posts)
    request = rf.get("/api/v1/timelines/home")
    request.user = viewer
    delivered_ids_add(request, [pid for p in posts for pid in (p.pk, p.repost_of_id) if pid])
    builder = EntityBuilder(request)
    expected = [
        orjson.dumps(_with_viewer_fields(builder._shared_status(p), builder._viewer_fields(p)))
        for p in posts
    ]
    for _ in range(2):  # cold, then warm
        assert [status.encoded for status in builder.statuses(posts)] == expected


def test_the_indented_and_browsable_forms_decode_the_cached_statuses(settings, world):
    """Ensures that the forms DRF renders itself (``indent``, the browsable API) show the
    same statuses as the compact bytes joined from the cache."""
    import json

    client = client_for(world)
    compact = client.get("/api/v1/timelines/home")
    indented = client.get("/api/v1/timelines/home", HTTP_ACCEPT="application/json; indent=2")
    assert indented.status_code == 200 and b'\n  {\n    "id"' in indented.content
    assert json.loads(indented.content) == compact.json()
    browsable = client.get("/api/v1/timelines/home", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 200
    assert f"&quot;id&quot;: &quot;{world.original.pk}&quot;" in browsable.content.decode()


def test_shared_renderings_cannot_be_changed_by_a_caller(world):
    """Ensures that what the render cache hands out is shared read-only (no copy per hit):
    a dict comes back as a read-only mapping, a status as immutable bytes."""
    from core.render_cache import rendered_many

    found = rendered_many({"r:test:dict": lambda: {"head": "<p>"}})["r:test:dict"]
    with pytest.raises(TypeError):
        found["head"] = "changed"
    again = rendered_many({"r:test:dict": lambda: {"head": "other"}})["r:test:dict"]
    assert again["head"] == "<p>"

"""Tests for bookmarks, the favourites list and hashtag timelines in the API: Mastodon's
endpoints and paging, ``bookmarked`` in the status, and the read gate on every list."""

import pytest

from accounts.models import Tier
from feeds import services
from feeds.models import Bookmark
from tests.api.conftest import assert_schema

pytestmark = pytest.mark.django_db


def test_bookmark_and_unbookmark(alice, bob):
    """Ensures that bookmarking answers with the status marked ``bookmarked``, is idempotent,
    goes to a reblog's original, and unbookmarking takes it back."""
    post = services.post_create(author=bob.user, text="keep this")
    repost = services.repost_create(user=bob.user, post=post)
    response = alice.client.post(f"/api/v1/statuses/{repost.pk}/bookmark")
    assert response.status_code == 200
    assert_schema(response, "statuses_bookmark")
    assert response.json()["bookmarked"] is True and response.json()["id"] == str(post.pk)
    alice.client.post(f"/api/v1/statuses/{post.pk}/bookmark")
    assert Bookmark.objects.filter(user=alice.user).count() == 1
    assert alice.client.get(f"/api/v1/statuses/{post.pk}").json()["bookmarked"] is True
    assert bob.client.get(f"/api/v1/statuses/{post.pk}").json()["bookmarked"] is False
    gone = alice.client.post(f"/api/v1/statuses/{post.pk}/unbookmark")
    assert gone.json()["bookmarked"] is False
    assert not Bookmark.objects.exists()


def test_bookmark_needs_write_scope_and_an_existing_status(reader, alice):
    """Ensures that a read-only token is refused (403), an unknown status is a 404, and
    nothing is stored."""
    post = services.post_create(author=alice.user, text="x")
    assert reader.client.post(f"/api/v1/statuses/{post.pk}/bookmark").status_code == 403
    assert alice.client.post("/api/v1/statuses/999999/bookmark").status_code == 404
    assert alice.client.post("/api/v1/statuses/abc/bookmark").status_code == 404
    assert not Bookmark.objects.exists()


def test_bookmarks_list_pages_by_bookmark_id(alice, bob):
    """Ensures that GET /api/v1/bookmarks lists newest bookmark first (not newest post) and
    its Link header pages by the bookmark's id."""
    old, new = (services.post_create(author=bob.user, text=t) for t in ("old", "new"))
    alice.client.post(f"/api/v1/statuses/{new.pk}/bookmark")
    alice.client.post(f"/api/v1/statuses/{old.pk}/bookmark")
    response = alice.client.get("/api/v1/bookmarks", {"limit": 1})
    assert_schema(response, "bookmarks_list")
    assert [s["id"] for s in response.json()] == [str(old.pk)]
    last = Bookmark.objects.get(post=old).pk
    assert f"max_id={last}" in response["Link"]
    rest = alice.client.get("/api/v1/bookmarks", {"max_id": last})
    assert [s["id"] for s in rest.json()] == [str(new.pk)]


def test_favourites_list(alice, bob):
    """Ensures that GET /api/v1/favourites lists the caller's liked statuses, newest like
    first, marked ``favourited``."""
    one, two = (services.post_create(author=bob.user, text=t) for t in ("one", "two"))
    services.like_create(user=alice.user, post=two)
    services.like_create(user=alice.user, post=one)
    response = alice.client.get("/api/v1/favourites")
    assert_schema(response, "favourites_list")
    assert [s["id"] for s in response.json()] == [str(one.pk), str(two.pk)]
    assert all(s["favourited"] for s in response.json())


def test_lists_are_metered(alice, bob):
    """Ensures that bookmarks and favourites draw on the read budget: a page is cut where it
    runs out, still offering the next page, which is then a 429."""
    posts = [services.post_create(author=bob.user, text=f"p{i}") for i in range(3)]
    for post in posts:
        services.like_create(user=alice.user, post=post)
        Bookmark.objects.create(user=alice.user, post=post)
    Tier.objects.filter(slug="new").update(daily_read_budget=2)
    first = alice.client.get("/api/v1/favourites")
    assert len(first.json()) == 2
    assert 'rel="next"' in first["Link"]
    last_like = first["Link"].split("max_id=")[1].split(">")[0]
    assert alice.client.get("/api/v1/favourites", {"max_id": last_like}).status_code == 429
    # The same two posts through bookmarks are re-reads (free); the third is refused.
    again = alice.client.get("/api/v1/bookmarks")
    assert [s["id"] for s in again.json()] == [str(posts[2].pk), str(posts[1].pk)]


def test_tag_timeline(anon, alice):
    """Ensures that the tag timeline lists posts carrying the tag in any case, newest first,
    an unused tag is an empty page and a name that cannot be a tag is a 404."""
    older = services.post_create(author=alice.user, text="#Coffee first")
    newer = services.post_create(author=alice.user, text="more #coffee")
    services.post_create(author=alice.user, text="#tea only")
    response = anon.get("/api/v1/timelines/tag/COFFEE")
    assert response.status_code == 200
    assert_schema(response, "timelines_tag")
    assert [s["id"] for s in response.json()] == [str(newer.pk), str(older.pk)]
    assert response.json()[0]["tags"] == [
        {"name": "coffee", "url": "http://testserver/tags/coffee/"}
    ]
    assert anon.get("/api/v1/timelines/tag/unused").json() == []
    assert anon.get("/api/v1/timelines/tag/123").status_code == 404
    assert anon.get("/api/v1/timelines/tag/coffee", {"max_id": "x"}).status_code == 400


def test_tag_timeline_is_metered(anon, alice):
    """Ensures that the tag timeline charges the anonymous budget like the public one."""
    for i in range(3):
        services.post_create(author=alice.user, text=f"#metered {i}")
    Tier.objects.filter(slug="anonymous").update(daily_read_budget=2)
    first = anon.get("/api/v1/timelines/tag/metered")
    assert len(first.json()) == 2
    rest = anon.get("/api/v1/timelines/tag/metered", {"max_id": first.json()[-1]["id"]})
    assert rest.status_code == 429

"""Tests for the notifications and markers API: Mastodon's entities, filters and keyset
paging, dismiss and clear, read positions, and the read gate on the statuses carried."""

import pytest

from accounts.models import Tier
from feeds import services
from feeds.models import Notification
from tests.api.conftest import assert_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def notified(alice, bob, django_capture_on_commit_callbacks):
    """Bob follows, likes, reposts and replies to alice's post; returns the post."""
    with django_capture_on_commit_callbacks(execute=True):
        post = services.post_create(author=alice.user, text="alice writes #notes")
        services.follow_create(follower=bob.user, followee=alice.user)
        services.like_create(user=bob.user, post=post)
        services.repost_create(user=bob.user, post=post)
        services.post_create(author=bob.user, text="a reply", reply_to=post)
    return post


def test_list_is_mastodons_entity_newest_first(alice, notified):
    """Ensures that GET /api/v1/notifications lists Mastodon's types (a reply as a mention),
    with the account and the status, and validates against the schema."""
    response = alice.client.get("/api/v1/notifications")
    assert response.status_code == 200
    assert_schema(response, "notifications_list")
    data = response.json()
    assert [n["type"] for n in data] == ["mention", "reblog", "favourite", "follow"]
    assert data[0]["status"]["content"] == "<p>a reply</p>"
    assert data[2]["status"]["id"] == str(notified.pk)
    assert data[3]["status"] is None and data[3]["account"]["username"] == "bob"


def test_types_and_exclude_types_filter(alice, notified):
    """Ensures that types[] and exclude_types[] filter, and an unknown type is a clear 400."""
    only = alice.client.get("/api/v1/notifications", {"types[]": ["follow", "favourite"]})
    assert [n["type"] for n in only.json()] == ["favourite", "follow"]
    without = alice.client.get("/api/v1/notifications", {"exclude_types[]": ["mention"]})
    assert "mention" not in [n["type"] for n in without.json()]
    bad = alice.client.get("/api/v1/notifications", {"types[]": "nonsense"})
    assert bad.status_code == 400 and "not a notification type" in bad.json()["error"]


def test_keyset_paging_with_link_header(alice, notified):
    """Ensures that limit and max_id page by notification id and Link says where next is."""
    first = alice.client.get("/api/v1/notifications", {"limit": 2})
    ids = [n["id"] for n in first.json()]
    assert len(ids) == 2
    assert f"max_id={ids[-1]}" in first["Link"] and 'rel="next"' in first["Link"]
    second = alice.client.get("/api/v1/notifications", {"limit": 2, "max_id": ids[-1]})
    assert [n["type"] for n in second.json()] == ["favourite", "follow"]
    newer = alice.client.get("/api/v1/notifications", {"min_id": second.json()[0]["id"]})
    assert [n["id"] for n in newer.json()] == ids


def test_get_one_dismiss_and_clear(alice, bob, notified):
    """Ensures that one notification can be read and dismissed by its recipient only, and
    clear deletes them all."""
    note = Notification.objects.filter(recipient=alice.user).first()
    one = alice.client.get(f"/api/v1/notifications/{note.pk}")
    assert one.status_code == 200
    assert_schema(one, "notifications_get")
    assert bob.client.get(f"/api/v1/notifications/{note.pk}").status_code == 404
    assert bob.client.post(f"/api/v1/notifications/{note.pk}/dismiss").status_code == 404
    assert alice.client.post(f"/api/v1/notifications/{note.pk}/dismiss").json() == {}
    assert alice.client.get(f"/api/v1/notifications/{note.pk}").status_code == 404
    assert alice.client.post("/api/v1/notifications/clear").status_code == 200
    assert alice.client.get("/api/v1/notifications").json() == []


def test_markers_and_unread_count(alice, notified):
    """Ensures that the notifications marker moves with POST /api/v1/markers (JSON or form),
    its version counts moves, and the unread count follows it."""
    assert alice.client.get("/api/v1/notifications/unread_count").json() == {"count": 4}
    assert alice.client.get("/api/v1/markers", {"timeline[]": "notifications"}).json() == {}
    newest = alice.client.get("/api/v1/notifications").json()[0]["id"]
    second = alice.client.get("/api/v1/notifications").json()[1]["id"]
    moved = alice.client.post(
        "/api/v1/markers", {"notifications": {"last_read_id": second}}, format="json"
    )
    assert moved.status_code == 200
    assert_schema(moved, "markers_update")
    assert moved.json()["notifications"]["last_read_id"] == second
    assert alice.client.get("/api/v1/notifications/unread_count").json() == {"count": 1}
    form = alice.client.post("/api/v1/markers", {"notifications[last_read_id]": newest})
    assert form.json()["notifications"]["version"] == 2
    got = alice.client.get("/api/v1/markers", {"timeline[]": "notifications"})
    assert_schema(got, "markers_get")
    assert got.json()["notifications"]["last_read_id"] == newest
    assert alice.client.get("/api/v1/notifications/unread_count").json() == {"count": 0}


@pytest.mark.parametrize(
    "body",
    [
        {"notifications": {"last_read_id": "abc"}},
        {"home": {"last_read_id": -1}},
        {"notifications": {"last_read_id": "5"}, "home": {"last_read_id": "x"}},
        [1],
    ],
)
def test_markers_refuse_bad_bodies(alice, body):
    """Ensures that a marker update with an invalid id is a clear 400 and stores nothing (not
    even the valid half); an empty one changes nothing."""
    response = alice.client.post("/api/v1/markers", body, format="json")
    assert response.status_code == 400
    assert alice.client.get("/api/v1/markers").json() == {}
    assert alice.client.post("/api/v1/markers", {}, format="json").json() == {}


def test_statuses_in_notifications_are_charged(alice, notified):
    """Ensures that the statuses carried are charged: with budget for one post the page
    stops before the next notification carrying another status, and the budget headers say
    so."""
    Tier.objects.filter(slug="new").update(daily_read_budget=1)
    response = alice.client.get("/api/v1/notifications")
    assert response.status_code == 200
    assert [n["type"] for n in response.json()] == ["mention"]
    assert response["X-RateLimit-Remaining"] == "0"
    refused = alice.client.get("/api/v1/notifications", {"max_id": response.json()[0]["id"]})
    assert refused.status_code == 429


def test_notifications_need_a_token(anon):
    """Ensures that anonymous callers get 401 everywhere here."""
    for path in ("/api/v1/notifications", "/api/v1/markers", "/api/v1/notifications/1"):
        assert anon.get(path).status_code == 401
    assert anon.post("/api/v1/notifications/clear").status_code == 401

"""The read gate on the API: every status-returning endpoint draws from the daily budget, and
a spent budget is a 429 with Mastodon's error plus machine-readable fields."""

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.models import Tier
from feeds.models import Like
from feeds.services import post_create
from tests.api.conftest import assert_schema
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(NOON, tick=False):
        yield


def _budget(slug: str, limit: int) -> None:
    Tier.objects.filter(slug=slug).update(daily_read_budget=limit)


def test_partial_page_then_429(alice):
    """Ensures that a page is cut where the budget runs out, then the next request gets 429 with
    the documented body and Retry-After until 00:00 UTC."""
    _budget("new", 3)
    PostFactory.create_batch(5, author=alice.user)
    first = alice.client.get("/api/v1/timelines/public")
    assert first.status_code == 200
    assert len(first.json()) == 3
    assert 'rel="next"' in first["Link"]  # a cut page still says where to continue
    refused = alice.client.get("/api/v1/timelines/public", {"max_id": first.json()[-1]["id"]})
    assert refused.status_code == 429
    assert_schema(refused, "timelines_public")
    body = refused.json()
    assert body["code"] == "read_budget_exhausted"
    assert body["limit"] == 3 and body["remaining"] == 0 and body["tier"] == "new"
    assert body["reset_at"] == "2026-11-27T00:00:00.000Z"
    assert body["upgrade_url"] and "resets" in body["error"]
    assert refused["Retry-After"] == str(12 * 3600)
    # already-read posts stay free
    assert alice.client.get("/api/v1/timelines/public", {"limit": 3}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/statuses/{post}",
        "/api/v1/statuses/{post}/context",
        "/api/v1/timelines/home",
        "/api/v1/timelines/public",
        "/api/v1/accounts/{author}/statuses",
    ],
)
def test_every_status_endpoint_is_metered(alice, bob, path):
    """Ensures that every endpoint returning statuses refuses with 429 once the budget is spent."""
    _budget("new", 0)
    parent = post_create(author=alice.user, text="parent")
    post = post_create(author=alice.user, text="child", reply_to=parent)
    response = alice.client.get(path.format(post=post.pk, author=alice.user.pk))
    assert response.status_code == 429, path
    assert response.json()["code"] == "read_budget_exhausted"


def test_anonymous_readers_are_metered_by_ip(anon):
    """Ensures that logged-out readers draw on the anonymous tier's budget by IP."""
    _budget("anonymous", 1)
    posts = PostFactory.create_batch(2)
    assert anon.get(f"/api/v1/statuses/{posts[0].pk}").status_code == 200
    response = anon.get(f"/api/v1/statuses/{posts[1].pk}")
    assert response.status_code == 429
    assert response.json()["tier"] == "anonymous"
    assert anon.get(f"/api/v1/statuses/{posts[0].pk}").status_code == 200  # re-read: free


def test_favourite_cannot_read_past_the_budget(alice, bob):
    """Ensures that favouriting is not a free way to read posts: with no budget left it is a 429
    and nothing is liked."""
    _budget("new", 0)
    post = post_create(author=bob.user, text="secret sauce")
    response = alice.client.post(f"/api/v1/statuses/{post.pk}/favourite")
    assert response.status_code == 429
    assert_schema(response, "statuses_favourite")
    assert not Like.objects.exists()


def test_own_new_status_is_not_metered(alice):
    """Ensures that the response to posting (the caller's own new status) is not refused."""
    _budget("new", 0)
    assert alice.client.post("/api/v1/statuses", {"status": "still can post"}).status_code == 200


def test_context_is_cut_as_one_page(alice):
    """Ensures that context meters ancestors and descendants as one list and splits it back."""
    _budget("new", 2)
    root = post_create(author=alice.user, text="root")
    middle = post_create(author=alice.user, text="middle", reply_to=root)
    post_create(author=alice.user, text="r1", reply_to=middle)
    post_create(author=alice.user, text="r2", reply_to=middle)
    data = alice.client.get(f"/api/v1/statuses/{middle.pk}/context").json()
    assert len(data["ancestors"]) == 1 and len(data["descendants"]) == 1

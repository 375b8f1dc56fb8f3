"""Writes that answer with a post pass the read gate (issue 12, items 1 and 8).

The attack: with the daily budget spent, repost a post blindly (the web button was not
metered), then ``DELETE /api/v1/statuses/<own repost>``, which answered with the full
original — unmetered, with no access-log record. Every write that answers with a status now
charges what it shows (the caller's own posts excepted), writes the access-log record and is
refused with 429 before acting when the budget is spent.
"""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from access.access_log_drain import access_log_drain
from access.models import AccessLogEntry
from accounts.models import Tier
from feeds.models import Like, Post
from feeds.services import post_create, repost_create

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(NOON, tick=False):
        yield


def _budget(slug: str, limit: int) -> None:
    Tier.objects.filter(slug=slug).update(daily_read_budget=limit)


def _records(user) -> list[AccessLogEntry]:
    access_log_drain(max_seconds=0)  # the Redis stream, when Redis is the ledger
    return list(AccessLogEntry.objects.filter(principal=f"user:{user.pk}").order_by("id"))


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_spent_budget_collects_nothing_through_writes(alice, bob):
    """Ensures that a reader whose budget of 5 is spent collects no new post through any
    write: the web repost and like buttons, then DELETE of the own repost, favourite,
    unfavourite, reblog and unreblog all answer 429 and show none of the unread posts."""
    _budget("new", 5)
    read = [post_create(author=bob.user, text=f"already read {i}") for i in range(5)]
    unread = [post_create(author=bob.user, text=f"harvest me {i}") for i in range(5)]
    for post in read:
        assert alice.client.get(f"/api/v1/statuses/{post.pk}").status_code == 200
    assert alice.client.get(f"/api/v1/statuses/{unread[0].pk}").status_code == 429

    web = _web(alice.user)
    bodies = []
    for post in unread:
        bodies.append(web.post(f"/posts/{post.pk}/repost/", {"next": "/"}))
        bodies.append(web.post(f"/posts/{post.pk}/like/", {"next": "/"}))
        # A repost made before the budget ran out (or by any means): deleting it is a read.
        repost = repost_create(user=alice.user, post=post)
        bodies.append(alice.client.delete(f"/api/v1/statuses/{repost.pk}"))
        for action in ("favourite", "unfavourite", "reblog", "unreblog"):
            bodies.append(alice.client.post(f"/api/v1/statuses/{post.pk}/{action}"))
    for response in bodies:
        assert response.status_code == 429, (response.request["PATH_INFO"], response.status_code)
        for post in unread:
            assert post.text.encode() not in response.content
    # Refused before acting: nothing was liked or deleted by the refused requests.
    assert not Like.objects.filter(user=alice.user).exists()
    assert Post.objects.filter(author=alice.user, repost_of__isnull=False).count() == 5


def test_deleting_own_repost_charges_and_logs_the_original(alice, bob):
    """Ensures that DELETE of the caller's own repost, which answers with the original, charges
    the original (not the caller's own repost) and leaves an access-log record."""
    original = post_create(author=bob.user, text="the original")
    repost = repost_create(user=alice.user, post=original)
    response = alice.client.delete(f"/api/v1/statuses/{repost.pk}")
    assert response.status_code == 200
    assert response.json()["reblog"]["id"] == str(original.pk)
    [record] = _records(alice.user)
    assert record.route_name == "api:status"
    assert (record.delivered, record.newly_charged) == (1, 1)


def test_own_posts_in_write_answers_are_free_but_logged(alice):
    """Ensures that a write answering with the caller's own post (posting, deleting,
    favouriting it) costs nothing even with the budget spent, and is still logged."""
    _budget("new", 0)
    created = alice.client.post("/api/v1/statuses", {"status": "mine"})
    assert created.status_code == 200
    own = created.json()["id"]
    assert alice.client.post(f"/api/v1/statuses/{own}/favourite").status_code == 200
    assert alice.client.delete(f"/api/v1/statuses/{own}").status_code == 200
    records = _records(alice.user)
    assert [r.route_name for r in records] == ["api:statuses", "api:status_favourite", "api:status"]
    assert all(r.newly_charged == 0 and r.status == 200 for r in records)


def test_web_actions_are_metered_and_logged(alice, bob):
    """Ensures that the web like and repost buttons pass the gate: they charge the post they
    act on, leave an access-log record, and with the budget spent answer the 429 page."""
    _budget("new", 1)
    first = post_create(author=bob.user, text="first")
    second = post_create(author=bob.user, text="second")
    web = _web(alice.user)
    assert web.post(f"/posts/{first.pk}/repost/", {"next": "/"}).status_code == 302
    refused = web.post(f"/posts/{second.pk}/repost/", {"next": "/"})
    assert refused.status_code == 429
    assert not Post.objects.filter(author=alice.user, repost_of=second).exists()
    assert [(r.route_name, r.status) for r in _records(alice.user)] == [
        ("feeds:repost", 200),
        ("feeds:repost", 429),
    ]


def test_refused_repost_is_not_charged(alice, bob):
    """Ensures that a repost refused because its original does not fit the budget charges
    nothing: the count stays at 5 (it went to 6, with a 429)."""
    _budget("new", 6)
    for i in range(5):
        post = post_create(author=bob.user, text=f"filler {i}")
        assert alice.client.get(f"/api/v1/statuses/{post.pk}").status_code == 200
    original = post_create(author=bob.user, text="original")
    repost = repost_create(user=bob.user, post=original)
    response = alice.client.get(f"/api/v1/statuses/{repost.pk}")
    assert response.status_code == 429
    assert response["X-Reads-Used"] == "5"
    assert alice.client.post(f"/api/v1/statuses/{repost.pk}/reblog").status_code == 200
    assert _records(alice.user)[-2].newly_charged == 0


def test_delete_of_anothers_post_is_404(alice, bob):
    """Ensures that DELETE of another's status answers 404, as for one that does not exist
    (Mastodon's answer: it does not say which posts exist), and deletes nothing."""
    post = post_create(author=bob.user, text="bob's")
    theirs = alice.client.delete(f"/api/v1/statuses/{post.pk}")
    missing = alice.client.delete(f"/api/v1/statuses/{post.pk + 1000}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert Post.objects.filter(pk=post.pk).exists()


def test_reply_error_page_names_no_unread_author(alice, bob):
    """Ensures that the reply form's error page does not name the author of a post the reader
    could not read: with the budget spent, replying (even with an empty text) is refused."""
    _budget("new", 0)
    secret = post_create(author=bob.user, text="who wrote me?")
    response = _web(alice.user).post("/posts/new/", {"text": "", "reply_to": secret.pk})
    assert response.status_code == 429
    assert b"@bob" not in response.content
    assert not Post.objects.filter(author=alice.user).exists()

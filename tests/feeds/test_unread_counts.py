"""Tests for the cached unread-notification count (feeds.unread_counts): a warm count costs
no query, and after every change that alters it the cached count is exactly the uncounted
one, on the next request."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.moderation import account_visibility_changed, user_suspend
from accounts.services import token_create
from feeds import notifications as notes
from feeds import services
from feeds.models import Notification
from tests.api.test_cache_outage import BrokenCache
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    """Ann, with a post liked by bob and cat, and a follow from dan (three unread)."""
    ann, bob, cat, dan = (UserFactory(username=name) for name in ("ann", "bob", "cat", "dan"))
    with django_capture_on_commit_callbacks(execute=True):
        post = services.post_create(author=ann, text="a post by ann")
    with django_capture_on_commit_callbacks(execute=True):
        services.like_create(user=bob, post=post)
        services.like_create(user=cat, post=post)
        services.follow_create(follower=dan, followee=ann)
    return {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "post": post}


def counted(user) -> int:
    return notes._unread_count_query(user)


def test_a_warm_count_needs_no_query(world):
    """Ensures that the second count of an unchanged reader runs no SQL."""
    assert notes.unread_count(user=world["ann"]) == 3
    with CaptureQueriesContext(connection) as queries:
        assert notes.unread_count(user=world["ann"]) == 3
    assert len(queries) == 0


@pytest.mark.parametrize(
    "change",
    [
        "notified",
        "withdrawn",
        "dismissed",
        "cleared",
        "read",
        "actor_suspended",
        "actor_reinstated",
        "post_deleted",
    ],
)
def test_every_change_shows_in_the_next_count(django_capture_on_commit_callbacks, world, change):
    """Ensures that after each change that alters the count (a new notification, one taken
    back, dismissed or cleared, "mark all read", the actor suspended or reinstated, the
    post deleted with its notifications) the cached count is exactly the uncached one."""
    ann, bob, post = world["ann"], world["bob"], world["post"]
    before = notes.unread_count(user=ann)
    with django_capture_on_commit_callbacks(execute=True):
        if change == "notified":
            services.follow_create(follower=bob, followee=ann)
        elif change == "withdrawn":
            services.like_delete(user=bob, post=post)
        elif change == "dismissed":
            notes.notification_dismiss(user=ann, notification_id=Notification.objects.first().pk)
        elif change == "cleared":
            notes.notifications_clear(user=ann)
        elif change == "read":
            notes.notifications_mark_read(user=ann)
        elif change == "actor_suspended":
            user_suspend(user=bob, actor=None, reason="spam")
        elif change == "actor_reinstated":
            user_suspend(user=bob, actor=None, reason="spam")
            before = notes.unread_count(user=ann)  # bob's like hidden: the cached 2
            assert before == counted(ann)
            bob.is_active = True
            bob.save(update_fields=["is_active"])
            account_visibility_changed(user_id=bob.pk)
        elif change == "post_deleted":
            services.post_delete(post=post, actor=ann)
    assert counted(ann) != before
    assert notes.unread_count(user=ann) == counted(ann)


def test_one_readers_change_leaves_the_others_cached(world):
    """Ensures that a notification for bob does not recount ann's."""
    notes.unread_count(user=world["ann"])
    services.follow_create(follower=world["cat"], followee=world["bob"])
    with CaptureQueriesContext(connection) as queries:
        assert notes.unread_count(user=world["ann"]) == 3
    assert len(queries) == 0


def test_the_navigation_badge_is_fresh_on_the_next_page(world):
    """Ensures that the web navigation's unread badge follows "mark all read" at once."""
    client = Client()
    client.force_login(world["ann"])
    assert 'aria-label="3 unread"' in client.get("/public/").content.decode()
    client.post("/notifications/read/", {"next": "/public/"})
    assert "unread-count" not in client.get("/public/").content.decode()


def test_redis_down_counts_from_the_database(monkeypatch, world):
    """Ensures that with the cache unreachable the count is still right (never a 500)."""
    monkeypatch.setattr("feeds.unread_counts.cache", BrokenCache())
    assert notes.unread_count(user=world["ann"]) == 3
    notes.notifications_mark_read(user=world["ann"])
    assert notes.unread_count(user=world["ann"]) == 0


def test_cache_off_counts_every_time(settings, world):
    """Ensures that RENDER_CACHE=0 turns the count cache off."""
    settings.RENDER_CACHE = False
    notes.unread_count(user=world["ann"])
    with CaptureQueriesContext(connection) as queries:
        notes.unread_count(user=world["ann"])
    assert len(queries) == 1


def badge(client) -> int:
    """The unread count the web navigation shows (0 when it shows none)."""
    found = re.search(r'aria-label="(\d+)\+? unread"', client.get("/public/").content.decode())
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize(
    "act", ["mentioned_together", "replied", "reposted", "liked", "followed", "actor_deleted"]
)
def test_every_way_a_notification_is_written_shows_on_the_next_request(
    django_capture_on_commit_callbacks, world, act
):
    """Ensures that each path that writes notifications (a post mentioning several readers at
    once, a reply, a repost, a like, a follow) and a deleted actor's cascade move both the web
    badge and the API's unread count on the recipients' next request (the renewal is the
    ``post_save``/``post_delete`` receiver, so a write that sends no signal, such as
    ``bulk_create``, fails here)."""
    ann, bob, cat, dan, post = (world[k] for k in ("ann", "bob", "cat", "dan", "post"))
    readers = {}
    for user in (ann, bob, cat):
        web = Client()
        web.force_login(user)
        _, raw = token_create(user=user, name="test", scopes=["read"])
        api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        readers[user.username] = (user, web, api)

    def seen():
        return {
            name: (badge(web), api.get("/api/v1/notifications/unread_count").json()["count"])
            for name, (_, web, api) in readers.items()
        }

    before = seen()  # warms every cached count
    with django_capture_on_commit_callbacks(execute=True):
        if act == "mentioned_together":
            services.post_create(author=dan, text="hello @ann @bob @cat")
        elif act == "replied":
            services.post_create(author=dan, text="a reply", reply_to=post)
        elif act == "reposted":
            services.repost_create(user=dan, post=post)
        elif act == "liked":
            services.like_create(user=dan, post=post)
        elif act == "followed":
            services.follow_create(follower=bob, followee=cat)
        elif act == "actor_deleted":
            bob.delete()
            del readers["bob"]
    after = seen()
    expected = {name: counted(user) for name, (user, _, _) in readers.items()}
    assert after == {name: (count, count) for name, count in expected.items()}
    assert after != {name: before[name] for name in after}

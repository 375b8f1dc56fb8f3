"""Tests for notifications: who is told what, what is never written or shown, the page with
its unread count and "mark all read", and the read gate on the statuses they carry."""

import pytest
from django.urls import reverse

from accounts.models import Tier
from feeds import notifications as notes
from feeds import services
from feeds.models import Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): …`` runs the after-commit callbacks the block queued."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def ann():
    return UserFactory(username="ann")


@pytest.fixture
def bob():
    return UserFactory(username="bob")


def kinds(user) -> list[tuple[str, int | None]]:
    return list(
        Notification.objects.filter(recipient=user)
        .order_by("id")
        .values_list("kind", "actor__username")
    )


def test_each_act_notifies_its_target_once(ann, bob, committed):
    """Ensures that a mention, a reply, a repost, a like and a follow each write one
    notification for the person concerned, and repeating the act adds none."""
    with committed():
        post = services.post_create(author=ann, text="a post by ann")
    with committed():
        services.post_create(author=bob, text="hi @ann")
        services.post_create(author=bob, text="@ann a reply mentioning ann", reply_to=post)
        services.repost_create(user=bob, post=post)
        services.like_create(user=bob, post=post)
        services.like_create(user=bob, post=post)
        services.follow_create(follower=bob, followee=ann)
    assert kinds(ann) == [
        ("mention", "bob"),
        ("reply", "bob"),
        ("reblog", "bob"),
        ("favourite", "bob"),
        ("follow", "bob"),
    ]
    assert kinds(bob) == []


def test_notifications_wait_for_commit(ann, bob, django_capture_on_commit_callbacks):
    """Ensures that nothing is written before the act commits (the services queue the write
    after commit)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.follow_create(follower=bob, followee=ann)
    assert kinds(ann) == []
    # The notification, the auth cache's post-commit renewal and, with Redis, the home
    # timeline merge: all queued, none run yet.
    assert callbacks
    for callback in callbacks:
        callback()
    assert kinds(ann) == [("follow", "bob")]


def test_undoing_an_act_takes_its_notification_back(ann, bob, committed):
    """Ensures that unliking, unreposting and unfollowing delete their notifications, and
    deleting a post deletes the notifications that carry it."""
    with committed():
        post = services.post_create(author=ann, text="mine")
        services.like_create(user=bob, post=post)
        services.repost_create(user=bob, post=post)
        services.follow_create(follower=bob, followee=ann)
        reply = services.post_create(author=bob, text="reply", reply_to=post)
    services.like_delete(user=bob, post=post)
    services.repost_delete(user=bob, post=post)
    services.follow_delete(follower=bob, followee=ann)
    assert kinds(ann) == [("reply", "bob")]
    services.post_delete(post=reply, actor=bob)
    assert kinds(ann) == []


def test_no_notification_from_suspended_accounts_or_about_oneself(ann, bob, committed):
    """Ensures that acts on one's own posts notify nobody, a suspended account's earlier
    notifications are hidden, and a post deleted before the write notifies nobody."""
    with committed():
        post = services.post_create(author=ann, text="mine @ann")
        services.like_create(user=ann, post=post)
        services.like_create(user=bob, post=post)
    assert kinds(ann) == [("favourite", "bob")]
    bob.is_active = False
    bob.save()
    assert notes.notifications_page(user=ann) == []
    assert notes.unread_count(user=ann) == 0
    carol = UserFactory(username="carol")
    with committed():
        gone = services.post_create(author=carol, text="hi @ann")
        services.post_delete(post=gone, actor=carol)  # deleted before the callback runs
    assert kinds(ann) == [("favourite", "bob")]


def test_types_filter_maps_reply_to_mention(ann, bob, committed):
    """Ensures that Mastodon's "mention" type covers replies too, and exclude_types leaves
    them out."""
    with committed():
        post = services.post_create(author=ann, text="mine")
        services.post_create(author=bob, text="reply", reply_to=post)
        services.follow_create(follower=bob, followee=ann)
    assert [n.kind for n in notes.notifications_page(user=ann, types=["mention"])] == ["reply"]
    assert [n.kind for n in notes.notifications_page(user=ann, exclude_types=["mention"])] == [
        "follow"
    ]


def test_page_shows_unread_count_and_mark_all_read(client, ann, bob, committed):
    """Ensures that the navigation shows the unread count, the page shows who did what with
    the post, and "mark all read" brings the count to zero."""
    with committed():
        post = services.post_create(author=ann, text="ann's words")
        services.like_create(user=bob, post=post)
        services.follow_create(follower=bob, followee=ann)
    client.force_login(ann)
    content = client.get(reverse("feeds:public")).content.decode()
    assert 'class="unread-count" aria-label="2 unread"' in content
    page = client.get(reverse("feeds:notifications"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "liked your post" in body and "followed you" in body and "ann&#x27;s words" in body
    assert body.count('class="notification unread"') == 2
    response = client.post(reverse("feeds:notifications_read"))
    assert response.status_code == 302
    after = client.get(reverse("feeds:notifications")).content.decode()
    assert "unread-count" not in after
    assert 'class="notification unread"' not in after


def test_page_charges_its_statuses_and_cuts_at_the_budget(client, ann, bob, committed):
    """Ensures that the statuses notifications carry are charged through the read gate: with
    budget for one post, the page stops before the second post's notification."""
    with committed():
        first = services.post_create(author=ann, text="first")
        second = services.post_create(author=ann, text="second")
        services.like_create(user=bob, post=first)
        services.like_create(user=bob, post=second)
    Tier.objects.filter(slug="new").update(daily_read_budget=1)
    client.force_login(ann)
    body = client.get(reverse("feeds:notifications")).content.decode()
    assert "second" in body and ">first<" not in body
    assert "daily read budget ran out" in body


def test_notifications_need_login(client):
    """Ensures that a logged-out visitor is sent to log in."""
    response = client.get(reverse("feeds:notifications"))
    assert response.status_code == 302 and "/login" in response.url
    assert client.post(reverse("feeds:notifications_read")).status_code == 302


def test_bad_paging_is_a_400(client, ann):
    """Ensures that a malformed max_id is a clear 400, not a 500."""
    client.force_login(ann)
    response = client.get(reverse("feeds:notifications"), {"max_id": "abc"})
    assert response.status_code == 400

"""Tests for the feeds services: posting rules, reposts, likes, follows and their counters."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from feeds import services
from feeds.models import Follow, Like, Post
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_post_create_normalises_and_counts():
    """Ensures that a post is stored NFC-normalised and stripped, and the author's count grows."""
    author = UserFactory()
    post = services.post_create(author=author, text="  Cafe\u0301 \r\nnext line  ")
    assert post.text == "Café \nnext line"
    author.refresh_from_db()
    assert author.posts_count == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cannot be empty"),
        ("   \n\t ", "cannot be empty"),
        ("a\x00b", "control characters"),
        ("bell\x07", "control characters"),
        ("x" * 501, "at most 500 characters; this one has 501"),
        ("\ud800", "lone surrogates"),
    ],
)
def test_post_create_refuses_bad_text(text, message):
    """Ensures that blank, too long and control-character posts are refused with a message."""
    with pytest.raises(ValidationError) as excinfo:
        services.post_create(author=UserFactory(), text=text)
    assert message in " ".join(excinfo.value.messages)
    assert Post.objects.count() == 0


def test_post_limit_counts_code_points_after_nfc():
    """Ensures that 500 composed characters fit, counted after NFC ("e" + accent is one)."""
    post = services.post_create(author=UserFactory(), text="e\u0301" * 500)
    assert len(post.text) == 500


def test_reply_sets_thread_and_counts():
    """Ensures that replies point at the thread root and bump the parent's reply count."""
    root = PostFactory()
    reply = services.post_create(author=UserFactory(), text="first", reply_to=root)
    nested = services.post_create(author=UserFactory(), text="second", reply_to=reply)
    assert reply.thread_root_id == root.pk
    assert nested.thread_root_id == root.pk
    root.refresh_from_db()
    assert root.replies_count == 1


def test_repost_is_idempotent_and_undoable():
    """Ensures that reposting twice makes one repost, and undoing it restores the count."""
    user, post = UserFactory(), PostFactory()
    first = services.repost_create(user=user, post=post)
    second = services.repost_create(user=user, post=post)
    assert first.pk == second.pk
    post.refresh_from_db()
    assert post.reposts_count == 1
    # Reposting the repost boosts the original, not the repost.
    assert services.repost_create(user=user, post=first).pk == first.pk
    services.repost_delete(user=user, post=post)
    services.repost_delete(user=user, post=post)
    post.refresh_from_db()
    assert post.reposts_count == 0
    assert not Post.objects.filter(repost_of=post).exists()


def test_like_is_idempotent():
    """Ensures that liking twice keeps one like and unliking twice never goes negative."""
    user, post = UserFactory(), PostFactory()
    services.like_create(user=user, post=post)
    services.like_create(user=user, post=post)
    post.refresh_from_db()
    assert post.likes_count == 1
    assert Like.objects.count() == 1
    services.like_delete(user=user, post=post)
    services.like_delete(user=user, post=post)
    post.refresh_from_db()
    assert post.likes_count == 0


def test_follow_rules():
    """Ensures that following is idempotent, self-follows are refused, counts stay right."""
    alice, bob = UserFactory(), UserFactory()
    services.follow_create(follower=alice, followee=bob)
    services.follow_create(follower=alice, followee=bob)
    assert Follow.objects.count() == 1
    with pytest.raises(ValidationError):
        services.follow_create(follower=alice, followee=alice)
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.following_count, bob.followers_count) == (1, 1)
    services.follow_delete(follower=alice, followee=bob)
    services.follow_delete(follower=alice, followee=bob)
    bob.refresh_from_db()
    assert bob.followers_count == 0


def test_only_the_author_deletes():
    """Ensures that nobody can delete someone else's post, and the author can."""
    post = services.post_create(author=UserFactory(), text="mine")
    with pytest.raises(PermissionDenied):
        services.post_delete(post=post, actor=UserFactory())
    services.post_delete(post=post, actor=post.author)
    assert not Post.objects.filter(pk=post.pk).exists()
    post.author.refresh_from_db()
    assert post.author.posts_count == 0

"""Tests for the demo data command and the counter rebuild it relies on."""

import pytest
from django.core.management import call_command

from accounts.models import User
from feeds.models import Follow, Like, Post

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_counters_match_rows(capsys):
    """Ensures that seed_demo creates consistent data once, prints the logins, and a second run
    changes nothing."""
    call_command("seed_demo", posts=300, allow_without_debug=True)
    out = capsys.readouterr().out
    assert "admin-password-2026" in out
    assert "demo-password-2026" in out
    counts = (User.objects.count(), Post.objects.count(), Like.objects.count())
    call_command("seed_demo", posts=300, allow_without_debug=True)
    assert (User.objects.count(), Post.objects.count(), Like.objects.count()) == counts

    alice = User.objects.get(username="alice")
    assert alice.check_password("demo-password-2026")
    assert alice.is_verified, "one demo account shows the paid badge"
    assert alice.posts_count == Post.objects.filter(author=alice, repost_of=None).count()
    assert alice.followers_count == Follow.objects.filter(followee=alice).count()
    post = Post.objects.filter(likes_count__gt=0).first()
    assert post.likes_count == Like.objects.filter(post=post).count()
    reply = Post.objects.filter(reply_to__isnull=False).first()
    assert reply.thread_root_id is not None
    created = list(Post.objects.order_by("id").values_list("created_at", flat=True))
    assert created == sorted(created), "ids must grow with time for id-ordered timelines"
    assert Post.objects.filter(repost_of__isnull=False).exists()
    from leaks.models import PostFingerprint

    indexed = set(PostFingerprint.objects.values_list("post_id", flat=True))
    assert indexed == set(Post.objects.filter(repost_of=None).values_list("id", flat=True)), (
        "bulk-created demo posts are in the leak tracer's text index"
    )


def test_seed_demo_refuses_without_debug(settings):
    """Ensures that demo accounts with known passwords are not created with DEBUG off."""
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", posts=10)
    assert not User.objects.exists()

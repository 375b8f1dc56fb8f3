"""Tests for the benchmark data generator (run small; the default size is for benchmarks)."""

import pytest
from django.core.management import call_command
from django.db.models import Count

from accounts.models import User
from feeds.models import Follow, Like, Post

pytestmark = pytest.mark.django_db(transaction=True)


def test_seed_scale_is_consistent_deterministic_and_idempotent(capsys):
    """Ensures that seed_scale writes consistent rows and counters, and a rerun adds nothing."""
    call_command("seed_scale", users=50, posts=2000, follows_per_user=10, seed=7)
    assert User.objects.filter(username__startswith="scale_").count() == 50
    assert Post.objects.count() == 2000
    assert Follow.objects.count() == 50 * 10
    assert Post.objects.filter(reply_to__isnull=False).exists()
    assert Post.objects.filter(repost_of__isnull=False).exists()

    created = list(Post.objects.order_by("id").values_list("created_at", flat=True))
    assert created == sorted(created), "ids must grow with time"
    for user in User.objects.annotate(n=Count("follower_set"))[:20]:
        assert user.followers_count == user.n
    for post in Post.objects.annotate(n=Count("likes")).filter(n__gt=0)[:20]:
        assert post.likes_count == post.n
    follower_counts = sorted(User.objects.values_list("followers_count", flat=True))
    assert follower_counts[-1] > 3 * follower_counts[len(follower_counts) // 2], "power law"

    # New rows get fresh ids from the sequence after an explicit-id load.
    post = Post.objects.create(author=User.objects.first(), text="after the load")
    assert post.pk > 2000 - 1

    likes = Like.objects.count()
    call_command("seed_scale", users=50, posts=2000, follows_per_user=10, seed=7)
    assert "nothing to do" in capsys.readouterr().out
    assert Like.objects.count() == likes

"""Keeping the materialised home timelines (``feeds.home_feed``) in step with the database.

Every write that changes whose home a post belongs on queues its timeline work after its
transaction commits, by id (``feeds.tasks``), so the fan-out never sees an uncommitted post
and never delays the write: a post or repost is pushed to its author's and every follower's
set, a delete or undone repost taken out, a follow merges the followee's newest posts, an
unfollow takes them out, a suspension takes the author's posts out and lifting it puts them
back. Cold readers are rebuilt from the database on their first read.

None of this decides what a reader sees: ``feeds.selectors.timeline_home`` filters every id
through visibility and the home rule. What these functions keep is the floor guarantee
(every visible home entry at or above a set's floor is in it). A task that ran late or twice
changes nothing more (ZADD and ZREM are idempotent). A deleted original's reposts stay in
their readers' sets until trimmed: the rule drops them at read time.

Without materialised timelines (``HOME_FEED`` off, no Redis) every function does nothing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from accounts.models import User

from . import tasks
from .home_feed import home_feed_get
from .models import Follow, Post, followees_if_few

logger = logging.getLogger(__name__)


def _queue(task, *args) -> None:
    """Send ``task`` after the current transaction commits (at once outside one). A broker
    that is down costs the timeline an entry, never the write: ``robust`` logs it."""
    if home_feed_get() is None:
        return
    transaction.on_commit(lambda: task.delay(*args), robust=True)


# --- queued by the services and the home selector ----------------------------------------


def home_feed_post_created_queue(*, post_id: int) -> None:
    _queue(tasks.home_feed_fanout_task, post_id)


def home_feed_post_deleted_queue(*, post_id: int, author_id: int) -> None:
    _queue(tasks.home_feed_post_remove_task, post_id, author_id)


def home_feed_follow_queue(*, follower_id: int, followee_id: int) -> None:
    _queue(tasks.home_feed_follow_task, follower_id, followee_id)


def home_feed_unfollow_queue(*, follower_id: int, followee_id: int) -> None:
    _queue(tasks.home_feed_unfollow_task, follower_id, followee_id)


def home_feed_rebuild_queue(*, viewer_id: int) -> None:
    _queue(tasks.home_feed_rebuild_task, viewer_id)


def home_feed_author_visibility_queue(*, user_id: int) -> None:
    """An account was suspended or reinstated (``accounts.moderation`` tells us)."""
    _queue(tasks.home_feed_author_visibility_task, user_id)


# --- the work, run by the tasks ------------------------------------------------------------


def _followers(author_id: int) -> list[int]:
    return list(
        Follow.objects.filter(followee_id=author_id)
        .order_by("follower_id")
        .values_list("follower_id", flat=True)
    )


def _newest_by(author_id: int, limit: int) -> list[int]:
    return list(
        Post.objects.filter(author_id=author_id)
        .order_by("-id")
        .values_list("id", flat=True)[:limit]
    )


def home_feed_fanout(*, post_id: int) -> int:
    """Push a new post (or repost) to its author's set and to every follower's. Followers
    beyond ``HOME_FEED_FANOUT_BATCH`` go to further tasks, one per batch, so a popular
    author's post is spread over the workers. Returns the readers handled here."""
    feed = home_feed_get()
    author_id = Post.objects.filter(pk=post_id).values_list("author_id", flat=True).first()
    if feed is None or author_id is None:
        return 0  # deleted before the fan-out ran: nothing to push
    readers = [author_id, *_followers(author_id)]
    batch = settings.HOME_FEED_FANOUT_BATCH
    for start in range(batch, len(readers), batch):
        tasks.home_feed_push_task.delay(post_id, readers[start : start + batch])
    feed.push(readers[:batch], [post_id])
    return min(len(readers), batch)


def home_feed_push(*, post_id: int, user_ids: list[int]) -> None:
    """One batch of a fan-out."""
    feed = home_feed_get()
    if feed is not None and Post.objects.filter(pk=post_id).exists():
        feed.push(user_ids, [post_id])


def home_feed_post_remove(*, post_id: int, author_id: int) -> None:
    """A deleted post or undone repost leaves its author's and every follower's set."""
    feed = home_feed_get()
    if feed is not None:
        feed.remove([author_id, *_followers(author_id)], [post_id])


def home_feed_follow(*, follower_id: int, followee_id: int) -> None:
    """Merge the followee's newest posts into the follower's set (if still following).

    When the followee has more than the cap, the ones merged end at their oldest: the floor
    is raised to it, so a page below it comes from the database, which has the rest."""
    feed = home_feed_get()
    if feed is None:
        return
    if not Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).exists():
        return  # undone before this ran
    ids = _newest_by(followee_id, feed.max_entries)
    hint = min(ids) if len(ids) == feed.max_entries else 0
    feed.push([follower_id], ids, floor_hint=hint)


def home_feed_unfollow(*, follower_id: int, followee_id: int) -> None:
    """Take the followee's posts out of the follower's set (unless followed again since)."""
    feed = home_feed_get()
    if feed is None:
        return
    if Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).exists():
        return
    members = feed.members(follower_id)
    if members:
        theirs = Post.objects.filter(pk__in=members, author_id=followee_id)
        feed.remove([follower_id], list(theirs.values_list("id", flat=True)))


def home_feed_rebuild(*, user_id: int) -> None:
    """Fill a cold reader's set from the database: the newest ``HOME_FEED_MAX_ENTRIES``
    home entries of active authors (reposts of a hidden original included: un-suspending
    its author makes them visible again, and the rule drops them until then)."""
    feed = home_feed_get()
    if feed is None:
        return
    feed.rebuild_begin(user_id)  # first, so a post committed after the query is pushed
    ids = list(
        Post.objects.by_active_authors()
        .home_of(user_id, followees=followees_if_few(user_id))
        .order_by("-id")
        .values_list("id", flat=True)[: feed.max_entries]
    )
    feed.rebuild_finish(user_id, ids, complete=len(ids) < feed.max_entries)


def home_feed_author_visibility(*, user_id: int) -> None:
    """A suspended author's newest posts leave every follower's set (and their own); a
    reinstated one's are merged back, as a follow would."""
    feed = home_feed_get()
    is_active = User.objects.filter(pk=user_id).values_list("is_active", flat=True).first()
    if feed is None or is_active is None:
        return
    readers = [user_id, *_followers(user_id)]
    ids = _newest_by(user_id, feed.max_entries)
    if not is_active:
        feed.remove(readers, ids)
        return
    hint = min(ids) if len(ids) == feed.max_entries else 0
    feed.push(readers, ids, floor_hint=hint)

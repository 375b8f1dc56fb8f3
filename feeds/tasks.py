"""Background work of feeds, thin Celery shells around its services: the unattached-media
purge, and the materialised home timelines (``feeds.home_timelines``): each loads by id and
calls the service. All are idempotent; a Redis error is retried with back-off, so
an outage delays an entry instead of losing it (the rule at read time never shows a wrong
one either way)."""

from celery import shared_task
from redis import RedisError

from . import home_timelines
from .media import media_unattached_purge

RETRY = {"autoretry_for": (RedisError,), "retry_backoff": 1, "max_retries": 5}


@shared_task
def media_unattached_purge_task() -> int:
    """Delete uploads never attached to a post (``MEDIA_UNATTACHED_HOURS``) and their files."""
    return media_unattached_purge()


@shared_task(**RETRY)
def home_feed_fanout_task(post_id: int) -> int:
    """A post or repost committed: push it to its author's and followers' timelines."""
    return home_timelines.home_feed_fanout(post_id=post_id)


@shared_task(**RETRY)
def home_feed_push_task(post_id: int, user_ids: list[int]) -> None:
    """One batch of followers of a popular author's fan-out."""
    home_timelines.home_feed_push(post_id=post_id, user_ids=user_ids)


@shared_task(**RETRY)
def home_feed_post_remove_task(post_id: int, author_id: int) -> None:
    """A post or repost was deleted: take it out of the timelines it was pushed to."""
    home_timelines.home_feed_post_remove(post_id=post_id, author_id=author_id)


@shared_task(**RETRY)
def home_feed_follow_task(follower_id: int, followee_id: int) -> None:
    """A follow: merge the followee's newest posts into the follower's timeline."""
    home_timelines.home_feed_follow(follower_id=follower_id, followee_id=followee_id)


@shared_task(**RETRY)
def home_feed_unfollow_task(follower_id: int, followee_id: int) -> None:
    """An unfollow: take the followee's posts out of the follower's timeline."""
    home_timelines.home_feed_unfollow(follower_id=follower_id, followee_id=followee_id)


@shared_task(**RETRY)
def home_feed_rebuild_task(user_id: int) -> None:
    """A cold reader read their home: fill their timeline from the database."""
    home_timelines.home_feed_rebuild(user_id=user_id)


@shared_task(**RETRY)
def home_feed_author_visibility_task(user_id: int) -> None:
    """An account was suspended or reinstated: take out or put back their posts."""
    home_timelines.home_feed_author_visibility(user_id=user_id)

"""Tests that the new lists cost a fixed number of queries whatever the page holds:
notifications, bookmarks, liked posts, hashtag timelines and post search."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feeds import bookmarks, notifications, search, services, tags
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def world(size: int):
    """A reader with ``size`` notifications (mentions and likes), bookmarks and likes, and
    ``size`` posts tagged #cost by different authors."""
    reader = UserFactory()
    for i in range(size):
        author = UserFactory()
        post = services.post_create(author=author, text=f"cost #cost @{reader.username} {i}")
        notifications.notifications_for_post(post_id=post.pk)
        own = services.post_create(author=reader, text=f"mine {i}")
        services.like_create(user=author, post=own)
        notifications.notification_for_like(user_id=author.pk, post_id=own.pk)
        bookmarks.bookmark_create(user=reader, post=post)
        services.like_create(user=reader, post=post)
    return reader


LISTS = {
    "notifications": lambda reader: notifications.notifications_page(user=reader),
    "bookmarks": lambda reader: bookmarks.bookmarks_page(user=reader).posts,
    "favourites": lambda reader: bookmarks.favourites_page(user=reader).posts,
    "tag": lambda reader: tags.timeline_tag(tag=tags.tag_get(name="cost"), viewer=reader),
    "search": lambda reader: search.search_posts(q="cost", viewer=reader),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_lists_cost_the_same_for_one_and_twenty_rows(django_assert_num_queries, name):
    """Ensures that a page of one row and a full page of twenty cost the same queries."""
    small = world(1)
    with CaptureQueriesContext(connection) as baseline:
        assert len(LISTS[name](small)) >= 1
    big = world(20)
    with django_assert_num_queries(len(baseline.captured_queries)):
        assert len(LISTS[name](big)) >= 20
    print(f"{name}: {len(baseline.captured_queries)} queries")  # noqa: T201 - the figure

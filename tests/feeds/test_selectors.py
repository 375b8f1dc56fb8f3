"""Tests for the feed selectors: a page of posts costs a fixed number of SQL queries.

Each page is measured once with one post and then asserted (with
``django_assert_num_queries``) to cost exactly the same with a full page of 20 posts made of
plain posts, replies and reposts by different people, liked and reposted by the viewer.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from feeds import selectors, services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FULL_PAGE = 20
# The page itself and the one statement describing it (originals, reply targets, authors, the
# viewer's likes, reposts and bookmarks; feeds.page_load): the same two whatever the page holds
# (mentions and images add one query each, only when the page has any).
SELECTOR_QUERIES = 2


def timeline_data(viewer, size: int):
    """``size`` entries by a followed "star" for the viewer's home, public and profile
    timelines: posts, replies to other people, and reposts of other people's replies.
    Returns the star."""
    star = UserFactory(username=f"star{size}")
    services.follow_create(follower=viewer, followee=star)
    posts = [services.post_create(author=star, text="the first post")]
    for n in range(1, size):
        other = UserFactory()
        kind = n % 3
        if kind == 0:
            posts.append(services.post_create(author=star, text=f"post {n}"))
        elif kind == 1:
            target = services.post_create(author=other, text=f"said {n}")
            posts.append(services.post_create(author=star, text=f"reply {n}", reply_to=target))
        else:
            parent = services.post_create(author=UserFactory(), text=f"parent {n}")
            original = services.post_create(author=other, text=f"reply {n}", reply_to=parent)
            posts.append(services.repost_create(user=star, post=original))
        services.like_create(user=viewer, post=posts[-1])
        if n % 4 == 0:
            services.repost_create(user=viewer, post=posts[-1])
    return star


FOCUS = 9  # in a 20-post conversation: 9 ancestors above it, 10 replies below


def thread_data(size: int):
    """A conversation of ``size`` posts by different people, all around ``posts[FOCUS]``:
    a chain of ancestors down to it, then replies to it and replies to those replies."""
    root = services.post_create(author=UserFactory(), text="root")
    posts = [root]
    for n in range(1, size):
        parent = posts[n - 1] if n <= FOCUS or n % 2 else posts[FOCUS]
        posts.append(services.post_create(author=UserFactory(), text=f"r{n}", reply_to=parent))
    return posts


def warm_up(client) -> None:
    """Read one unrelated post first, so the reader's read-ledger row for today exists and the
    measured pages pay only their steady per-page cost (creating that row is a one-off)."""
    services.post_create(author=UserFactory(), text="warm-up")
    assert client.get(reverse("feeds:public")).status_code == 200


def count_queries(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured)


@pytest.mark.parametrize("name", ["home", "public", "profile"])
def test_timeline_selectors_cost_two_queries_whatever_the_page_size(
    django_assert_num_queries, name
):
    """Ensures that the home, public and profile selectors take the same two queries (the page
    and the statement describing it) for a page of one post and for a full page of posts,
    replies and reposts without mentions or images — and home from the database, for a
    reader who follows few, one more: whom they follow (``feeds.models.followees_if_few``)."""
    viewer = UserFactory()
    queries = SELECTOR_QUERIES + (name == "home")

    def run(star):
        page = {
            "home": lambda: selectors.timeline_home(viewer=viewer),
            "public": lambda: selectors.timeline_public(viewer=viewer),
            "profile": lambda: selectors.timeline_profile(author_id=star.pk, viewer=viewer),
        }[name]()
        # Touch everything a page shows, so a lazy relation would show up as a query.
        for post in page:
            shown = post.shown
            _ = (post.author.name, shown.author.is_verified, post.viewer_liked)
            _ = shown.reply_to.author.username if shown.reply_to_id else None
        return page

    star = timeline_data(viewer, 1)
    with django_assert_num_queries(queries):
        small = run(star)
    assert small
    star = timeline_data(viewer, FULL_PAGE)
    with django_assert_num_queries(queries):
        large = run(star)
    assert len(large) == FULL_PAGE
    assert any(p.repost_of_id for p in large) or name == "public"
    assert any(p.shown.reply_to_id for p in large)


def test_thread_selectors_cost_a_fixed_number_of_queries(django_assert_num_queries):
    """Ensures that post_get and post_thread take the same two queries each for a lone post
    and for a 20-post conversation."""
    viewer = UserFactory()
    lone = thread_data(1)[0]
    big = thread_data(FULL_PAGE)
    for focus in (lone, big[FOCUS]):
        with django_assert_num_queries(2 * SELECTOR_QUERIES):
            post = selectors.post_get(post_id=focus.pk, viewer=viewer)
            thread = selectors.post_thread(post=post, viewer=viewer)
            for row in [*thread.ancestors, thread.post, *thread.descendants]:
                _ = (row.author.name, row.reply_to.author.username if row.reply_to_id else None)
    assert len(thread.ancestors) + 1 + len(thread.descendants) == FULL_PAGE


@pytest.mark.parametrize("name", ["home", "public", "profile"])
def test_timeline_pages_cost_the_same_with_1_and_20_posts(client, django_assert_num_queries, name):
    """Ensures that rendering the home, public and profile pages costs the same number of
    queries with one post as with a full page of posts, replies and reposts."""
    viewer = UserFactory()
    client.force_login(viewer)

    def get(star, expected: int) -> None:
        args = [star.username] if name == "profile" else []
        response = client.get(reverse(f"feeds:{name}", args=args))
        assert response.status_code == 200
        assert len(response.context["posts"]) == expected

    warm_up(client)
    star = timeline_data(viewer, 1)
    # The public page also shows the warm-up post.
    baseline = count_queries(lambda: get(star, 2 if name == "public" else 1))
    star = timeline_data(viewer, FULL_PAGE)
    with django_assert_num_queries(baseline):
        get(star, FULL_PAGE)


def test_post_page_costs_the_same_for_a_lone_post_and_a_20_post_thread(
    client, django_assert_num_queries
):
    """Ensures that a post page costs the same queries alone and inside a 20-post thread."""
    client.force_login(UserFactory())

    def get(post, expected: int) -> None:
        response = client.get(reverse("feeds:post", args=[post.pk]))
        shown = [*response.context["ancestors"], response.context["post"]]
        assert len(shown) + len(response.context["descendants"]) == expected

    warm_up(client)
    lone = thread_data(1)[0]
    baseline = count_queries(lambda: get(lone, 1))
    big = thread_data(FULL_PAGE)
    with django_assert_num_queries(baseline):
        get(big[FOCUS], FULL_PAGE)


def test_public_page_for_a_visitor_costs_the_same_with_1_and_20_posts(
    client, django_assert_num_queries
):
    """Ensures that the public page costs a visitor the same queries at any page size."""
    viewer = UserFactory()
    warm_up(client)
    timeline_data(viewer, 1)
    baseline = count_queries(lambda: client.get(reverse("feeds:public")))
    timeline_data(viewer, FULL_PAGE)
    with django_assert_num_queries(baseline):
        response = client.get(reverse("feeds:public"))
    assert len(response.context["posts"]) == FULL_PAGE

"""Tests for the bookmark buttons, the bookmarks and liked-posts pages and hashtag pages."""

import pytest
from django.urls import reverse

from accounts.models import Tier
from feeds import services
from feeds.models import Bookmark
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def me(client):
    user = UserFactory(username="me")
    client.force_login(user)
    return user


def test_bookmark_button_keeps_the_post_for_later(client, me):
    """Ensures that the bookmark button stores a bookmark (once), the post shows as
    bookmarked, the bookmarks page lists it, and unbookmarking removes it."""
    post = services.post_create(author=UserFactory(), text="worth keeping")
    url = reverse("feeds:bookmark", args=[post.pk])
    assert client.post(url, {"next": "/public/"}).status_code == 302
    client.post(url)
    assert Bookmark.objects.filter(user=me, post=post).count() == 1
    assert "★ Bookmarked" in client.get(reverse("feeds:public")).content.decode()
    page = client.get(reverse("feeds:bookmarks")).content.decode()
    assert "worth keeping" in page
    client.post(reverse("feeds:unbookmark", args=[post.pk]))
    assert not Bookmark.objects.exists()
    assert "worth keeping" not in client.get(reverse("feeds:bookmarks")).content.decode()


def test_bookmark_refusals(client, me):
    """Ensures that bookmarking a missing post is a 404, GET is refused (405), and logged-out
    visitors are sent to log in; nothing is stored."""
    assert client.post(reverse("feeds:bookmark", args=[999999])).status_code == 404
    post = services.post_create(author=me, text="x")
    assert client.get(reverse("feeds:bookmark", args=[post.pk])).status_code == 405
    client.logout()
    assert client.post(reverse("feeds:bookmark", args=[post.pk])).status_code == 302
    assert client.get(reverse("feeds:bookmarks")).status_code == 302
    assert not Bookmark.objects.exists()


def test_liked_posts_page(client, me):
    """Ensures that the liked-posts page lists what the reader liked, newest like first."""
    first, second = (services.post_create(author=UserFactory(), text=t) for t in ("aa1", "bb2"))
    services.like_create(user=me, post=second)
    services.like_create(user=me, post=first)
    content = client.get(reverse("feeds:favourites")).content.decode()
    assert content.index("aa1") < content.index("bb2")


def test_tag_page_lists_tagged_posts_and_is_metered(client):
    """Ensures that /tags/<tag>/ shows the posts carrying the tag (any case), an unused tag
    is an empty page, a non-tag is a 404, and the page is cut at the anonymous budget."""
    author = UserFactory()
    for i in range(3):
        services.post_create(author=author, text=f"#Walks number {i}")
    services.post_create(author=author, text="no tag here")
    content = client.get(reverse("feeds:tag", args=["walks"])).content.decode()
    assert content.count("number") == 3 and "no tag here" not in content
    assert "<h1>#walks</h1>" in content
    assert "No posts with this hashtag yet" in client.get("/tags/nothing/").content.decode()
    assert client.get("/tags/123/").status_code == 404
    Tier.objects.filter(slug="anonymous").update(daily_read_budget=2)
    client.cookies.clear()
    cut = client.get(reverse("feeds:tag", args=["WALKS"]), REMOTE_ADDR="198.51.100.9")
    assert cut.content.decode().count("number") == 2
    assert "daily read budget ran out" in cut.content.decode()

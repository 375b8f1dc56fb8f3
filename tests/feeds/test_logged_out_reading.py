"""Tests for the per-feed logged-out reading policy (public / authenticated / disabled)."""

import pytest

from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def post():
    return PostFactory(author=UserFactory(username="writer"))


def test_public_by_default_within_the_anonymous_budget(client, post):
    """Ensures that logged-out readers see every feed by default, metered as anonymous."""
    for url in ("/public/", "/@writer/", f"/posts/{post.pk}/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["X-RateLimit-Limit"] == "100"


@pytest.mark.parametrize(
    ("setting", "url"),
    [("public_timeline", "/public/"), ("profiles", "/@writer/"), ("posts", "/posts/{id}/")],
)
def test_authenticated_shows_a_login_wall(client, settings, post, setting, url):
    """Ensures that an "authenticated" feed sends logged-out readers to log in, charging
    nothing, and still serves logged-in readers."""
    settings.LOGGED_OUT_READING = {**settings.LOGGED_OUT_READING, setting: "authenticated"}
    url = url.format(id=post.pk)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert "X-RateLimit-Limit" not in response
    client.force_login(UserFactory())
    assert client.get(url).status_code == 200


def test_disabled_public_timeline_is_for_staff_only(client, settings, post):
    """Ensures that a disabled public timeline refuses everyone but staff, with a message."""
    settings.LOGGED_OUT_READING = {**settings.LOGGED_OUT_READING, "public_timeline": "disabled"}
    assert client.get("/public/").status_code == 403
    client.force_login(UserFactory())
    response = client.get("/public/")
    assert response.status_code == 403
    assert b"not available" in response.content
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/public/").status_code == 200

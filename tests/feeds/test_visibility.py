"""Visibility is one rule (``Post.objects.visible()``) on every surface (issue 12, item 2).

The attack: a suspended author's posts were hidden from their own timelines, but served
inside other people's reposts (the repost's API status and web page, the reposter's profile,
the reposter's followers' home timelines) and as reply parents and thread ancestors.
"""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import token_create
from feeds.models import Post
from feeds.services import follow_create, post_create, repost_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET = "suspended-author-text"


class Scene:
    """A suspended author; an active reposter and replier; a reader who follows them."""

    def __init__(self):
        self.gone = UserFactory(username="gonegary")
        self.reposter = UserFactory(username="reposter")
        self.reader = UserFactory(username="reader")
        self.hidden = post_create(author=self.gone, text=f"{SECRET} original")
        parent = post_create(author=self.gone, text=f"{SECRET} parent")
        self.repost = repost_create(user=self.reposter, post=self.hidden)
        self.reply = post_create(author=self.reposter, text="a visible reply", reply_to=parent)
        # A repost of the reply: its "Replying to" line would name the suspended parent.
        self.repost_of_reply = repost_create(user=self.reader, post=self.reply)
        follow_create(follower=self.reader, followee=self.reposter)
        follow_create(follower=self.reader, followee=self.gone)
        self.gone.is_active = False
        self.gone.save(update_fields=["is_active"])
        _token, self.raw = token_create(user=self.reader, name="t", scopes=["read", "write"])


@pytest.fixture
def scene() -> Scene:
    return Scene()


def _clients(scene: Scene, logged_in: bool) -> tuple[Client, APIClient]:
    web, api = Client(), APIClient()
    if logged_in:
        web.force_login(scene.reader)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {scene.raw}")
    return web, api


def _assert_hidden(response) -> None:
    assert response.status_code in (200, 302, 404), response.status_code
    assert SECRET.encode() not in response.content
    assert b"gonegary" not in response.content


@pytest.mark.parametrize("logged_in", [False, True], ids=["logged-out", "logged-in"])
def test_suspended_authors_posts_appear_nowhere(scene, logged_in):
    """Ensures that no read surface, web or API, shows a suspended author's post: not inside
    a repost, not as a reply parent or thread ancestor, not in profiles or timelines."""
    web, api = _clients(scene, logged_in)
    reposter = scene.reposter
    pages = [
        web.get("/public/"),
        web.get(f"/@{reposter.username}/"),
        web.get(f"/posts/{scene.reply.pk}/"),
        web.get(f"/posts/{scene.repost_of_reply.pk}/"),
        api.get("/api/v1/timelines/public"),
        api.get(f"/api/v1/accounts/{reposter.pk}/statuses"),
        api.get(f"/api/v1/accounts/{scene.reader.pk}/statuses"),
        api.get(f"/api/v1/statuses/{scene.reply.pk}"),
        api.get(f"/api/v1/statuses/{scene.reply.pk}/context"),
        api.get(f"/api/v1/statuses/{scene.repost_of_reply.pk}"),
    ]
    if logged_in:
        pages += [web.get("/"), api.get("/api/v1/timelines/home")]
    for response in pages:
        _assert_hidden(response)
        assert response.status_code == 200
    assert api.get(f"/api/v1/statuses/{scene.reply.pk}").json()["in_reply_to_id"] is None


@pytest.mark.parametrize("logged_in", [False, True], ids=["logged-out", "logged-in"])
def test_a_repost_of_a_hidden_post_is_not_found(scene, logged_in):
    """Ensures that a repost whose original is hidden is itself not shown: its page, its API
    status, its context, its likes and reposts lists and every action on it answer 404."""
    web, api = _clients(scene, logged_in)
    repost = scene.repost.pk
    reads = [
        web.get(f"/posts/{repost}/"),
        api.get(f"/api/v1/statuses/{repost}"),
        api.get(f"/api/v1/statuses/{repost}/context"),
        api.get(f"/api/v1/statuses/{repost}/favourited_by"),
        api.get(f"/api/v1/statuses/{repost}/reblogged_by"),
        web.get(f"/posts/{scene.hidden.pk}/"),
        api.get(f"/api/v1/statuses/{scene.hidden.pk}"),
    ]
    for response in reads:
        _assert_hidden(response)
        assert response.status_code == 404
    if not logged_in:
        return
    writes = [api.post(f"/api/v1/statuses/{repost}/{action}") for action in ("favourite", "reblog")]
    writes += [web.post(f"/posts/{repost}/{action}/") for action in ("like", "repost")]
    writes.append(web.post("/posts/new/", {"text": "hi", "reply_to": repost}))
    writes.append(api.post("/api/v1/statuses", {"status": "hi", "in_reply_to_id": repost}))
    for response in writes:
        assert SECRET.encode() not in response.content
        assert response.status_code in (400, 404), response.status_code
    assert not Post.objects.filter(author=scene.reader, text="hi").exists()


def test_visible_is_the_one_rule():
    """Ensures that the rule itself hides a suspended author's posts and reposts of them."""
    scene = Scene()
    visible = set(Post.objects.visible().values_list("pk", flat=True))
    assert scene.hidden.pk not in visible and scene.repost.pk not in visible
    assert {scene.reply.pk, scene.repost_of_reply.pk} <= visible

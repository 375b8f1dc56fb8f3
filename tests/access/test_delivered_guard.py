"""Nothing turns a post into a response unless the gate delivered it in the same request
(issue 12, item 5): the API's entity builder and the web's post fragment refuse."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import RequestFactory

from access.delivered import UngatedPostError
from access.gate import posts_deliver
from api.entities import EntityBuilder
from feeds.selectors import post_get
from feeds.services import post_create, repost_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _request(user=None):
    request = RequestFactory().get("/somewhere")
    request.user = user or AnonymousUser()
    return request


def test_entity_builder_refuses_a_post_that_skipped_the_gate():
    """Ensures that ``EntityBuilder.status`` raises for a post the gate did not deliver in this
    request, and builds it once the gate has."""
    post = post_get(post_id=post_create(author=UserFactory(), text="t").pk, viewer=None)
    request = _request()
    with pytest.raises(UngatedPostError):
        EntityBuilder(request).status(post)
    posts_deliver(request=request, posts=[post])
    assert EntityBuilder(request).status(post)["id"] == str(post.pk)
    # Another request has passed nothing: the set is per request.
    with pytest.raises(UngatedPostError):
        EntityBuilder(_request()).status(post)


def test_entity_builder_needs_a_reposts_original_delivered_too():
    """Ensures that a repost is refused when only the wrapper, not its original, passed."""
    reader = UserFactory()
    original = post_create(author=UserFactory(), text="original")
    own_repost = post_get(post_id=repost_create(user=reader, post=original).pk, viewer=reader)
    request = _request(reader)
    with pytest.raises(UngatedPostError):  # the wrapper is the reader's own; the original not
        EntityBuilder(request).status(own_repost)
    posts_deliver(request=request, posts=[own_repost], charge_own=False)
    assert EntityBuilder(request).status(own_repost)["reblog"]["id"] == str(original.pk)


def test_own_posts_need_no_gate():
    """Ensures that the caller's own post may be serialized without a pass (posting answers)."""
    reader = UserFactory()
    post = post_get(post_id=post_create(author=reader, text="mine").pk, viewer=reader)
    assert EntityBuilder(_request(reader)).status(post)["content"]


def test_web_post_fragment_refuses_a_post_that_skipped_the_gate():
    """Ensures that the web's post fragment raises for a post not delivered in this request."""
    post = post_get(post_id=post_create(author=UserFactory(), text="web").pk, viewer=None)
    request = _request()
    with pytest.raises(UngatedPostError):
        render_to_string("feeds/_post.html", {"post": post}, request=request)
    posts_deliver(request=request, posts=[post])
    assert "web" in render_to_string("feeds/_post.html", {"post": post}, request=request)


def test_own_posts_are_free_by_one_rule_for_the_gate_and_the_guard():
    """Ensures that the reader's own posts are free in one place: a write's answer
    (``charge_own=False``) charges only someone else's original inside the reader's repost, and
    the guard lets the reader's own post through with nothing delivered."""
    reader, other = UserFactory(), UserFactory()
    original = post_create(author=other, text="theirs")
    wrapper = post_get(post_id=repost_create(user=reader, post=original).pk, viewer=reader)
    request = _request(reader)
    assert posts_deliver(request=request, posts=[wrapper], charge_own=False) == [wrapper]
    assert request.read_grant.delivered_ids == [original.pk]
    mine = post_get(post_id=post_create(author=reader, text="mine").pk, viewer=reader)
    EntityBuilder(_request(reader)).status(mine)  # own: no gate pass needed
    with pytest.raises(UngatedPostError):
        EntityBuilder(_request(other)).status(mine)

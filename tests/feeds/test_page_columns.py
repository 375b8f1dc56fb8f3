"""The page statement reads only the user columns showing a post needs (feeds.page_load):
nothing an API or web page shows reads one it left deferred, and no page holds a password."""

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import User
from feeds import page_load, selectors
from tests.api.test_render_cache import client_for, surfaces
from tests.render_world import World, world_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(django_capture_on_commit_callbacks) -> World:
    with django_capture_on_commit_callbacks(execute=True):
        return world_build()


@pytest.fixture
def deferred_reads_fail(monkeypatch):
    """Reading a deferred user field (one extra query per instance) fails the test."""
    touched: list = []
    refresh = User.refresh_from_db

    def watched(self, using=None, fields=None, from_queryset=None):
        if fields and set(fields) <= self.get_deferred_fields():
            touched.append((self.username, sorted(fields)))
        return refresh(self, using=using, fields=fields, from_queryset=from_queryset)

    monkeypatch.setattr(User, "refresh_from_db", watched)
    return touched


def web_pages(world: World) -> list[str]:
    """Every web page that shows posts."""
    return [
        reverse("feeds:home"),
        reverse("feeds:public"),
        reverse("feeds:profile", args=[world.ann.username]),
        reverse("feeds:profile", args=[world.vera.username]),
        reverse("feeds:post", args=[world.original.pk]),
        reverse("feeds:post", args=[world.repost.pk]),
        reverse("feeds:post", args=[world.reply.pk]),
        reverse("feeds:notifications"),
        reverse("feeds:bookmarks"),
        reverse("feeds:favourites"),
        reverse("feeds:tag", args=["django"]),
        reverse("feeds:search") + "?q=%23django",
    ]


@pytest.mark.parametrize("render_cache", [False, True])
def test_no_page_reads_a_deferred_user_field(settings, world, deferred_reads_fail, render_cache):
    """Ensures that every API route answering with statuses and every web page showing posts,
    rendered from scratch and from the render cache, reads only the user fields the page
    statement fetched (a deferred one would cost a query per author shown)."""
    settings.RENDER_CACHE = render_cache
    api = client_for(world)
    web = Client()
    web.force_login(world.viewer)
    for path in surfaces(world):
        assert api.get(path).status_code == 200, path
    for path in web_pages(world):
        assert web.get(path).status_code == 200, path
    assert deferred_reads_fail == []


def test_a_page_holds_no_password_hash(world):
    """Ensures that the authors a page statement builds carry only the shown fields, never
    the password hash, e-mail or login times (they stay deferred, unread)."""
    posts = selectors.timeline_home(viewer=world.viewer)
    authors = [p.author for p in posts] + [p.repost_of.author for p in posts if p.repost_of_id]
    assert authors
    for author in authors:
        assert set(author.__dict__) >= set(page_load.USER_SHOWN_FIELDS)
        assert {"password", "email", "last_login"} <= author.get_deferred_fields()
    statement = page_load._statement(connection.vendor, 20, False).sql
    assert '"password"' not in statement and '"email"' not in statement

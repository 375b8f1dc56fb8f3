"""Fixtures for the hardening tests: a populated world, callers of every kind, loose rate
limits (the request-rate limits have their own tests; here they would only get in the way)."""

import pytest
from django.contrib.auth.models import Permission

from accounts.services import token_create
from feeds import services as feeds_services
from tests.factories import PostFactory, UserFactory


@pytest.fixture(autouse=True)
def _loose_request_rate_limits(settings):
    """Thousands of requests per test: raise every request-rate rule far out of reach."""
    groups = getattr(settings, "REQUEST_RATE_LIMITS", None)
    if groups:
        settings.REQUEST_RATE_LIMITS = {
            name: [("1000000/1m", key) for _rate, key in rules] for name, rules in groups.items()
        }


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


class World:
    """Two people who post, follow, like and repost each other, plus staff of both kinds."""

    def __init__(self):
        self.owner = UserFactory(username="owner", email="owner-secret@example.com")
        self.other = UserFactory(username="other", email="other-secret@example.com")
        self.staff = UserFactory(
            username="staffer", email="staff-secret@example.com", is_staff=True
        )
        self.reviewer = UserFactory(
            username="reviewer", email="reviewer-secret@example.com", is_staff=True
        )
        self.reviewer.user_permissions.add(
            Permission.objects.get(codename="review_scrape_logs", content_type__app_label="access")
        )
        self.tokens = {}
        for name in ("owner", "other", "staff", "reviewer"):
            _token, raw = token_create(user=getattr(self, name), name="t", scopes=["read", "write"])
            self.tokens[name] = raw
        self.owner_posts = [PostFactory(author=self.owner, text=f"owner {i}") for i in range(3)]
        self.other_posts = [PostFactory(author=self.other, text=f"other {i}") for i in range(3)]
        self.reply = feeds_services.post_create(
            author=self.other, text="a reply", reply_to=self.owner_posts[0]
        )
        feeds_services.follow_create(follower=self.owner, followee=self.other)
        feeds_services.follow_create(follower=self.other, followee=self.owner)
        feeds_services.like_create(user=self.other, post=self.owner_posts[0])
        feeds_services.repost_create(user=self.other, post=self.owner_posts[1])


@pytest.fixture
def world(db) -> World:
    return World()

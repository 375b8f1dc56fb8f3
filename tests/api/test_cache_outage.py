"""Tests for API paths that use the cache directly, when the cache (Redis) fails."""

import pytest
from django_redis.exceptions import ConnectionInterrupted

from feeds.models import Post
from tests.api.conftest import assert_schema

pytestmark = pytest.mark.django_db


class BrokenCache:
    """Stands in for a django-redis cache whose server stopped: every call raises."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionInterrupted("Connection refused")

        return fail


def test_idempotent_post_refuses_with_503_and_posts_nothing(monkeypatch, alice):
    """Ensures that when the idempotency store is unreachable, a keyed POST gets a 503 with a
    message and stores nothing (posting anyway could publish a client's retry twice)."""
    monkeypatch.setattr("api.views.statuses.cache", BrokenCache())
    response = alice.client.post(
        "/api/v1/statuses", {"status": "hello"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 503
    assert "Retry in a minute" in response.json()["error"]
    assert_schema(response, "statuses_create")
    assert not Post.objects.exists()


def test_post_without_a_key_does_not_need_the_cache(monkeypatch, alice):
    """Ensures that a POST without Idempotency-Key works while the cache is down."""
    monkeypatch.setattr("api.views.statuses.cache", BrokenCache())
    response = alice.client.post("/api/v1/statuses", {"status": "hello"}, format="json")
    assert response.status_code == 200
    assert Post.objects.count() == 1


def test_instance_works_without_the_cache(monkeypatch, anon):
    """Ensures that /api/v1/instance answers from the database when the cache is down."""
    monkeypatch.setattr("accounts.directory.cache", BrokenCache())
    response = anon.get("/api/v1/instance")
    assert response.status_code == 200
    assert "stats" in response.json()

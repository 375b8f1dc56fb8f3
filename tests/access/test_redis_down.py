"""Tests for the Redis-down policy, by really stopping a Redis server this test started.

Policy: anonymous, new and restricted readers fail closed (429, short Retry-After, nothing
charged); every other reader falls back to the database ledger, so reads stay bounded by
the budget. No exception escapes to the reader.
"""

import uuid

import pytest
from django.http import HttpResponse

from access.gate import ReadBudgetExhausted, posts_deliver, read_gate
from access.ledgers import LedgerUnavailable, RedisLedger
from access.middleware import ReadBudgetHeadersMiddleware
from access.responses import budget_exhausted_page, budget_exhausted_payload, retry_after_seconds
from access.selectors import read_meter_get
from accounts.models import Tier
from tests.factories import PostFactory, UserFactory

from .conftest import NOON, RedisServer


def timeline_view(posts):
    """A stand-in for a web timeline: deliver through the gate, refuse with the 429 page."""

    def view(request):
        try:
            delivered = posts_deliver(request=request, posts=posts)
        except ReadBudgetExhausted as exc:
            return budget_exhausted_page(request, exc.grant)
        return HttpResponse(",".join(str(p.pk) for p in delivered))

    return ReadBudgetHeadersMiddleware(view)


@pytest.fixture
def doomed_redis(db, use_ledger):
    server = RedisServer()
    ledger = use_ledger(RedisLedger(client=server.client(), key_prefix=f"t-{uuid.uuid4().hex}"))
    yield server, ledger
    server.stop()


def test_redis_down_anonymous_and_new_fail_closed(doomed_redis, noon, make_request):
    """Ensures that with Redis stopped, anonymous and new readers get a 429 that says to come
    back shortly, not a 500, and are charged nothing."""
    server, ledger = doomed_redis
    posts = [PostFactory() for _ in range(3)]
    newcomer = UserFactory()  # tier "new"
    assert timeline_view(posts)(make_request()).status_code == 200
    assert timeline_view(posts)(make_request(newcomer)).status_code == 200

    server.stop()
    with pytest.raises(LedgerUnavailable):
        ledger.charge(principal="ip:x", day=NOON.date(), limit=5, post_ids=[1])
    for user in (None, newcomer):
        response = timeline_view(posts)(make_request(user))
        assert response.status_code == 429
        assert response["Retry-After"] == "60"
        assert "try again in 1 min" in response.content.decode()
    with pytest.raises(ReadBudgetExhausted) as exc:
        posts_deliver(request=make_request(), posts=posts)
    grant = exc.value.grant
    assert grant.ledger_unavailable and grant.newly_charged == 0
    assert budget_exhausted_payload(grant)["code"] == "read_budget_unavailable"
    assert retry_after_seconds(grant) == 60
    meter = read_meter_get(request=make_request())  # the meter never raises
    assert meter.used is None and meter.limit == 100


def test_redis_down_others_fall_back_to_the_database(doomed_redis, noon, make_request):
    """Ensures that with Redis stopped an unverified reader keeps reading from the database
    ledger, bounded by the budget: never unbounded reads."""
    server, _ = doomed_redis
    tier = Tier.objects.get(slug="unverified")
    tier.daily_read_budget = 5
    tier.save()
    reader = UserFactory(tier_override=tier)
    assert read_gate(request=make_request(reader), post_ids=[1, 2]).used == 2

    server.stop()
    delivered = []
    for start in range(100, 200, 3):  # keep asking for new posts
        grant = read_gate(request=make_request(reader), post_ids=[start, start + 1, start + 2])
        delivered.extend(grant.delivered_ids)
        if grant.refused:
            break
    print(f"\n[redis-down] fallback delivered {len(delivered)} with budget 5 after the stop")
    assert len(delivered) == 5  # the database ledger's own count, from zero: bounded
    assert read_meter_get(request=make_request(reader)).used == 5
    response = timeline_view([PostFactory()])(make_request(reader))
    assert response.status_code == 429 and response["X-RateLimit-Remaining"] == "0"

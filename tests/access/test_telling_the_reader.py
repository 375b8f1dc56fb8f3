"""Tests for what the reader is told: headers, the 429 body, the meter and the refusal page."""

import pytest
from django.db import connection
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from access.context_processors import read_meter
from access.gate import ReadBudgetExhausted, posts_deliver, read_gate
from access.middleware import ReadBudgetHeadersMiddleware
from access.responses import budget_exhausted_page, budget_exhausted_payload, retry_after_seconds
from accounts.models import Tier
from tests.factories import PostFactory, UserFactory


def through_middleware(request, status=200):
    return ReadBudgetHeadersMiddleware(lambda req: HttpResponse(status=status))(request)


@pytest.fixture
def unverified(db):
    return UserFactory(tier_override=Tier.objects.get(slug="unverified"))


def test_headers_for_a_limited_reader(gate_ledger, noon, make_request, unverified):
    """Ensures that a metered response carries the IETF draft and Mastodon headers."""
    request = make_request(unverified)
    request.read_grant = read_gate(request=request, post_ids=list(range(1, 361)))
    response = through_middleware(request)
    assert response["RateLimit-Policy"] == '"daily-reads";q=1000;w=86400'
    assert response["RateLimit"] == '"daily-reads";r=640;t=43200'
    assert response["X-RateLimit-Limit"] == "1000"
    assert response["X-RateLimit-Remaining"] == "640"
    assert response["X-RateLimit-Reset"] == "2026-11-27T00:00:00.000Z"
    assert "private" in response["Cache-Control"]


def test_headers_for_unlimited_and_off(gate_ledger, noon, make_request, settings):
    """Ensures that staff get no quota headers but their count, and "off" sends none."""
    request = make_request(UserFactory(is_staff=True))
    request.read_grant = read_gate(request=request, post_ids=[1, 2])
    response = through_middleware(request)
    assert "RateLimit" not in response and "X-RateLimit-Limit" not in response
    assert response["X-Read-Budget"] == "unlimited" and response["X-Reads-Used"] == "2"
    assert response["X-RateLimit-Reset"] == "2026-11-27T00:00:00.000Z"
    settings.ACCESS_ENFORCEMENT = "off"
    request = make_request(UserFactory())
    request.read_grant = read_gate(request=request, post_ids=[1])
    assert "X-RateLimit-Reset" not in through_middleware(request)


def test_no_headers_without_the_gate(make_request):
    """Ensures that responses which served no posts are left alone."""
    response = through_middleware(make_request())
    assert "RateLimit" not in response and "Cache-Control" not in response


def test_refusal_payload_and_retry_after(gate_ledger, noon, make_request):
    """Ensures that the 429 body says what happened, when it resets and how to get more."""
    Tier.objects.filter(slug="anonymous").update(daily_read_budget=2)
    post = PostFactory()
    read_gate(request=make_request(), post_ids=[10**9, 10**9 + 1])
    request = make_request()
    with pytest.raises(ReadBudgetExhausted) as exc:
        posts_deliver(request=request, posts=[post])
    grant = exc.value.grant
    payload = budget_exhausted_payload(grant)
    assert payload["code"] == "read_budget_exhausted"
    assert payload["limit"] == 2 and payload["remaining"] == 0 and payload["tier"] == "anonymous"
    assert payload["reset_at"] == "2026-11-27T00:00:00.000Z"
    assert payload["upgrade_url"] == "/accounts/signup/"
    assert "00:00 UTC (in 12 h)" in payload["error"] and "Sign up" in payload["error"]
    assert retry_after_seconds(grant) == 43200
    response = through_middleware(request, status=429)
    assert response["Retry-After"] == "43200" and response["RateLimit"].startswith(
        '"daily-reads";r=0;'
    )


def test_refusal_page(gate_ledger, noon, make_request, unverified):
    """Ensures that the web refusal is a 429 page with the reset time and the way to more."""
    read_gate(request=make_request(unverified), post_ids=list(range(1, 1002)))
    request = make_request(unverified)
    grant = read_gate(request=request, post_ids=[5000])
    assert grant.refused
    response = budget_exhausted_page(request, grant)
    body = response.content.decode()
    assert response.status_code == 429 and response["Retry-After"] == "43200"
    assert "read all 1,000 posts for today" in body and "00:00 UTC" in body
    assert "/accounts/settings/verification/" in body
    assert "does not reload by itself" in body and 'http-equiv="refresh"' not in body


def test_meter_reads_without_charging(gate_ledger, noon, make_request, unverified):
    """Ensures that the meter shows the reader's state from one cheap read, charging nothing."""
    read_gate(request=make_request(unverified), post_ids=list(range(1, 361)))
    request = make_request(type(unverified).objects.get(pk=unverified.pk))
    with CaptureQueriesContext(connection) as queries:
        meter = read_meter(request)["read_meter"]
        html = render_to_string("access/_meter.html", {"read_meter": meter})
    assert "640 of 1,000 posts left today · resets 00:00 UTC" in html
    # The tier (override + row, as effective_tier reads them) and the day row (none on Redis).
    assert len(queries) <= 3
    assert not any("INSERT" in q["sql"] or "UPDATE" in q["sql"] for q in queries.captured_queries)
    again = read_gate(request=make_request(unverified), post_ids=[])
    assert again.used == 360


def test_meter_uses_the_grant_of_this_request(gate_ledger, noon, make_request):
    """Ensures that after the gate ran the meter shows the post-charge state, query-free."""
    request = make_request(UserFactory(is_staff=True))
    request.read_grant = read_gate(request=request, post_ids=[1, 2, 3])
    with CaptureQueriesContext(connection) as queries:
        html = render_to_string("access/_meter.html", read_meter(request))
    assert len(queries) == 0
    assert "Unlimited reading · 3 posts read today" in html


def test_headers_on_a_real_post_page(db, client, settings, use_ledger):
    """Ensures that, with the middleware installed, a post page through the whole stack carries
    the read-budget headers and the refusal is a 429 with Retry-After."""
    from access.ledgers import DatabaseLedger

    use_ledger(DatabaseLedger())
    name = "access.middleware.ReadBudgetHeadersMiddleware"
    if name not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, name]
    Tier.objects.filter(slug="anonymous").update(daily_read_budget=1)
    first, second = PostFactory(), PostFactory()
    ok = client.get(f"/posts/{first.pk}/", REMOTE_ADDR="198.51.100.77")
    assert ok.status_code == 200
    assert ok["RateLimit-Policy"] == '"daily-reads";q=1;w=86400'
    assert ok["X-RateLimit-Remaining"] == "0"
    refused = client.get(f"/posts/{second.pk}/", REMOTE_ADDR="198.51.100.77")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused["RateLimit"].startswith('"daily-reads";r=0;')

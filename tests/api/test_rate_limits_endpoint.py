"""GET /api/v1/rate_limits: the caller's read budget and request-rate limits, free of charge."""

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Tier
from tests.access.conftest import NOON
from tests.factories import PostFactory

from .conftest import assert_schema, make_caller

pytestmark = pytest.mark.django_db

URL = "/api/v1/rate_limits"


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(NOON, tick=False):
        yield


def by_policy(body: dict) -> dict:
    return {(item["policy"], item["key"]): item for item in body["request_limits"]}


def test_token_caller_sees_budget_and_request_limits():
    """Ensures that a token caller gets its tier's budget (limit, used, remaining, reset at
    00:00 UTC) and the rules keyed by its token, its account and its IP, as documented."""
    caller = make_caller()
    response = caller.client.get(URL)
    assert response.status_code == 200
    assert_schema(response, "rate_limits")
    body = response.json()
    budget = body["read_budget"]
    tier = Tier.objects.get(slug=budget["tier"])
    assert budget["limit"] == tier.daily_read_budget
    assert budget["used"] == 0
    assert budget["remaining"] == tier.daily_read_budget
    assert budget["reset_at"] == "2026-11-27T00:00:00.000Z"
    assert budget["window"] == 86400
    limits = by_policy(body)
    assert limits["api", "token"]["limit"] == 300
    assert limits["api", "token"]["window"] == 300
    assert limits["api", "user"]["limit"] == 1500
    assert ("api", "anon_ip") not in limits
    assert limits["post", "user"]["rate"] == "300/3h"
    assert limits["follow", "user"]["window"] == 86400
    assert limits["paging", "principal"]["limit"] == 300
    assert ("login_failures", "username") not in limits


def test_reading_it_charges_no_reads_but_counts_as_an_api_request():
    """Ensures that the endpoint never charges the read budget (its figures stay put after
    reading posts once) and that it counts as one API request, included in its figures."""
    caller = make_caller()
    PostFactory.create_batch(3)
    assert caller.client.get("/api/v1/timelines/public").status_code == 200
    first = caller.client.get(URL).json()
    second = caller.client.get(URL).json()
    assert first["read_budget"]["used"] == second["read_budget"]["used"] == 3
    assert "X-Reads-Used" not in caller.client.get(URL)
    api_first, api_second = by_policy(first)["api", "token"], by_policy(second)["api", "token"]
    assert api_first["used"] == 2  # the timeline and this call
    assert api_second["used"] == 3
    assert api_second["remaining"] == 297


def test_anonymous_caller_keyed_by_ip():
    """Ensures that a logged-out caller sees the anonymous budget and the per-IP rules."""
    client = APIClient(REMOTE_ADDR="203.0.113.99")
    response = client.get(URL)
    assert response.status_code == 200
    assert_schema(response, "rate_limits")
    body = response.json()
    assert body["read_budget"]["tier"] == "anonymous"
    limits = by_policy(body)
    assert limits["api", "anon_ip"]["used"] == 1
    assert ("api", "token") not in limits
    assert ("api", "user") not in limits
    assert limits["signup", "ip"]["limit"] == 5


def test_refused_with_documented_429_when_api_limit_spent(settings):
    """Ensures that past the API limit the endpoint itself is refused, with the documented
    rate_limited body (it is free of reads, not of the request limit)."""
    settings.REQUEST_RATE_LIMITS = {**settings.REQUEST_RATE_LIMITS, "api": [("2/5m", "token")]}
    caller = make_caller()
    assert caller.client.get(URL).status_code == 200
    assert caller.client.get(URL).status_code == 200
    refused = caller.client.get(URL)
    assert refused.status_code == 429
    assert refused["Retry-After"]
    assert_schema(refused, "rate_limits")
    assert refused.json()["code"] == "rate_limited"


def test_schema_documents_both_429_bodies():
    """Ensures that metered operations document the read-budget and the request-rate 429."""
    from .conftest import openapi_schema, operation

    schema = operation("timelines_home")["responses"]["429"]["content"]["application/json"]
    ref = schema["schema"]["$ref"].rsplit("/", 1)[-1]
    one_of = openapi_schema()["components"]["schemas"][ref]["oneOf"]
    names = {item["$ref"].rsplit("/", 1)[-1] for item in one_of}
    assert names == {"ReadBudgetError", "RateLimitedError"}

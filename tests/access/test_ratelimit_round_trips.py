"""Request-rate counters on Redis (core/ratelimits.py): every counter a request moves, of every
group it counts against, in one round trip, under django-ratelimit's own keys and windows."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django_ratelimit.core import get_usage

from core.ratelimits import ratelimit_check, ratelimit_check_all, ratelimit_statuses
from tests.api.conftest import make_caller
from tests.api.test_home_round_trips import redis_round_trips
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db

LIMITS = {
    "api": [("300/5m", "token"), ("1500/5m", "user"), ("300/5m", "anon_ip")],
    "paging": [("300/15m", "principal")],
    "signup": [("2/1m", "ip"), ("10/1h", "ip")],
}


@pytest.fixture
def limits(settings, require_redis):
    settings.RATELIMIT_ENABLE = True
    settings.REQUEST_RATE_LIMITS = dict(LIMITS)
    return settings


def _trips(client, path: str) -> list[str]:
    with redis_round_trips() as trips:
        assert client.get(path).status_code == 200
    return trips


@pytest.mark.parametrize(
    "path", ["/api/v1/accounts/verify_credentials", "/api/v1/timelines/public?max_id=999999"]
)
def test_an_api_request_counts_its_rules_in_one_round_trip(limits, path):
    """Ensures that an API request's request-rate counters ("api" per token and per user, and
    "paging" for a cursor) cost one Redis round trip together, beside what the request makes
    with the limits off."""
    caller = make_caller(username="counted")
    PostFactory(author=UserFactory())
    for _ in range(2):  # the token cached, the gate's script loaded
        caller.client.get(path)
    limits.RATELIMIT_ENABLE = False
    without = _trips(caller.client, path)
    limits.RATELIMIT_ENABLE = True
    with_limits = _trips(caller.client, path)
    assert len(with_limits) == len(without) + 1, (without, with_limits)
    assert with_limits.count("EVALSHA") == without.count("EVALSHA") + 1
    paging = ratelimit_statuses(_request_of(caller), "paging")
    expected = [3] if "max_id" in path else [0]  # the two warm-ups and the counted request
    assert [status.used for status in paging] == expected


def _request_of(caller):
    request = RequestFactory().get("/")
    request.user = caller.user
    request.auth = caller.token
    return request


def test_the_counters_are_django_ratelimits_own(limits, make_request):
    """Ensures that the counters are the ones django-ratelimit keeps (same keys, windows and
    expiry): a count made by one is read by the other."""
    request = make_request(ip="192.0.2.44")
    assert ratelimit_check(request, "signup") is None
    usage = get_usage(
        request, group="signup.ip", key=lambda *_: "192.0.2.44/32", rate="2/1m", increment=True
    )
    assert usage["count"] == 2
    broken = ratelimit_check(request, "signup")
    assert (broken.rate, broken.limit) == ("2/1m", 2)
    # 2/1m: three counts, shown at its limit; 10/1h: our two (the rate is part of the key).
    assert [s.used for s in ratelimit_statuses(request, "signup")] == [2, 2]
    keys = cache.keys("*")  # django-redis: the cache's keys without their prefix
    assert keys, "no counter written"
    for key in keys:
        assert 0 < cache.ttl(key) <= 3600 + 5


def test_groups_after_a_refusal_are_not_counted(limits, make_request):
    """Ensures that checking several groups at once still stops at the first refused one:
    the groups after it are neither counted nor returned."""
    limits.REQUEST_RATE_LIMITS = {"first": [("1/1m", "ip")], "second": [("5/1m", "ip")]}
    request = make_request(ip="192.0.2.45")
    assert ratelimit_check_all(request, ["first", "second"]) is None
    refused = ratelimit_check_all(request, ["first", "second"])
    assert refused.group == "first"
    assert [s.used for s in ratelimit_statuses(request, "second")] == [1]


def test_on_the_cluster_layout_the_counters_go_key_by_key(limits):
    """Ensures that with Redis keys laid out for Redis Cluster (``ACCESS_LOG_SHARDS`` > 1) a
    request's counters are not sent as one script — django-ratelimit's keys carry no hash
    tag, so they span slots — but key by key, and still count."""
    limits.ACCESS_LOG_SHARDS = 2
    caller = make_caller(username="clustered")
    path = "/api/v1/timelines/public?max_id=999999"
    for _ in range(2):
        caller.client.get(path)
    limits.RATELIMIT_ENABLE = False
    without = _trips(caller.client, path)
    limits.RATELIMIT_ENABLE = True
    with_limits = _trips(caller.client, path)
    assert with_limits.count("EVALSHA") == without.count("EVALSHA"), with_limits
    assert len(with_limits) > len(without) + 1
    assert [status.used for status in ratelimit_statuses(_request_of(caller), "paging")] == [3]

"""Request-rate 429s in the access log (issue 12, item 8): an API or web request refused by a
request-rate limit leaves an access-log record, so the detectors ("ignoring 429s" first) see
a client that keeps hammering past its 429s."""

import uuid

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from access.access_log_drain import access_log_drain
from access.detectors import IGNORED_429, detect_bulk_access
from access.ledgers import DatabaseLedger
from access.models import AccessLogEntry, Flag
from accounts.services import token_create
from tests.factories import PostFactory, UserFactory

from .conftest import NOON

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOON, tick=False):
        yield


def test_api_request_rate_429s_are_logged_and_flagged(settings):
    """Ensures that each API request refused by the "api" limit writes one access-log record
    (status 429, nothing delivered), and that a token asking on past them is flagged for
    ignoring 429s."""
    settings.REQUEST_RATE_LIMITS = {**settings.REQUEST_RATE_LIMITS, "api": [("3/5m", "token")]}
    PostFactory.create_batch(2)
    scraper = UserFactory(username="scraper")
    token, raw = token_create(user=scraper, name="bot", scopes=["read"])
    client = APIClient(REMOTE_ADDR="198.51.100.70", HTTP_USER_AGENT="Mozilla/5.0")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    statuses = [client.get("/api/v1/timelines/public").status_code for _ in range(10)]
    assert statuses == [200] * 3 + [429] * 7
    access_log_drain()  # with Redis configured the records are in its stream until drained
    refused = AccessLogEntry.objects.filter(status=429)
    assert refused.count() == 7
    entry = refused.first()
    assert entry.principal == f"user:{scraper.pk}" and entry.token_id == token.pk
    assert entry.route_name == "api:timeline_public"
    assert (entry.delivered, entry.newly_charged, entry.refused) == (0, 0, 0)
    assert entry.user_agent == "Mozilla/5.0" and entry.client_ip == "198.51.100.70"
    detect_bulk_access()
    flag = Flag.objects.get(rule=IGNORED_429)
    assert flag.principal == f"user:{scraper.pk}"
    # Not a spent read budget: the budget rule does not fire on request-rate refusals.
    assert not Flag.objects.filter(rule="budget_exhausted").exists()


def test_anonymous_and_web_paging_429s_are_logged(settings):
    """Ensures that request-rate 429s of logged-out API callers and of web paging are
    recorded too, keyed by the reader the read budget would use."""
    settings.REQUEST_RATE_LIMITS = {
        **settings.REQUEST_RATE_LIMITS,
        "api": [("1/5m", "anon_ip")],
        "paging": [("1/15m", "principal")],
    }
    PostFactory.create_batch(2)
    anonymous = APIClient(REMOTE_ADDR="203.0.113.80")
    assert anonymous.get("/api/v1/timelines/public").status_code == 200
    assert anonymous.get("/api/v1/timelines/public").status_code == 429
    web = Client(REMOTE_ADDR="203.0.113.90")
    assert web.get("/public/", {"max_id": 999}).status_code == 200
    assert web.get("/public/", {"max_id": 999}).status_code == 429
    access_log_drain()
    refused = AccessLogEntry.objects.filter(status=429).order_by("created_at", "id")
    assert [(e.principal, e.route_name) for e in refused] == [
        ("ip:203.0.113.80/32", "api:timeline_public"),
        ("ip:203.0.113.90/32", "feeds:public"),
    ]
    assert refused[1].paging == {"max_id": "999"}


def _refuse_twice(settings):
    settings.REQUEST_RATE_LIMITS = {**settings.REQUEST_RATE_LIMITS, "api": [("1/5m", "anon_ip")]}
    client = APIClient(REMOTE_ADDR="203.0.113.81")
    return [client.get("/api/v1/timelines/public").status_code for _ in range(3)]


def test_with_redis_a_429_record_takes_the_stream_not_the_database(
    settings, private_redis, use_ledger, monkeypatch
):
    """Ensures that on the Redis ledger a request-rate 429 writes its record the way the gate
    does: one XADD to the reader's stream and no INSERT on the request path; the drain then
    stores each record once, with the same fields the database path writes."""
    from access.ledgers import RedisLedger

    prefix = f"t-{uuid.uuid4().hex}"
    ledger = use_ledger(RedisLedger(client=private_redis.client(), key_prefix=prefix))
    monkeypatch.setattr("access.ratelimit_records.ledger_get", lambda: ledger)
    assert _refuse_twice(settings) == [200, 429, 429]
    assert not AccessLogEntry.objects.exists()
    # The gate's record of the 200 and the two 429s', all in the reader's stream.
    assert ledger.client.xlen(ledger.stream_key_for("ip:203.0.113.81/32")) == 3
    assert access_log_drain(client=ledger.client, key_prefix=prefix) == 3
    assert access_log_drain(client=ledger.client, key_prefix=prefix) == 0
    refused = list(AccessLogEntry.objects.filter(status=429))
    assert len(refused) == 2 and len({entry.record_id for entry in refused}) == 2
    for entry in refused:
        assert (entry.delivered, entry.newly_charged, entry.refused) == (0, 0, 0)
        assert entry.remaining is None and entry.route_name == "api:timeline_public"
        assert entry.principal == "ip:203.0.113.81/32" and entry.tier == "anonymous"


def test_with_redis_down_a_429_record_goes_to_the_database(settings, use_ledger, monkeypatch):
    """Ensures that when the Redis ledger cannot be reached the 429 is still recorded, in the
    database, as the gate's records are."""
    from access.ledgers import RedisLedger

    from .conftest import RedisServer

    server = RedisServer()
    ledger = RedisLedger(client=server.client(), key_prefix=f"t-{uuid.uuid4().hex}")
    server.stop()
    use_ledger(DatabaseLedger())
    monkeypatch.setattr("access.ratelimit_records.ledger_get", lambda: ledger)
    assert _refuse_twice(settings) == [200, 429, 429]
    assert AccessLogEntry.objects.filter(status=429).count() == 2

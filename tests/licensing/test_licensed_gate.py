"""The licensed lane charges through the read gate's machinery (access.gate.metered_charge):
the access-log record is written with the charge, ACCESS_ENFORCEMENT is honoured, and an
unreachable quota ledger fails closed."""

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from access.access_log_drain import access_log_drain
from access.models import AccessLogEntry
from licensing.models import LicenceMonth
from licensing.quota import RedisQuotaLedger
from tests.access.conftest import RedisServer
from tests.conftest import skip_or_fail
from tests.factories import PostFactory, UserFactory
from tests.licensing.conftest import make_licensee

pytestmark = pytest.mark.django_db

URL = "/api/v1/licensed/statuses"
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(NOON, tick=False):
        yield


def _records(licensee) -> list[AccessLogEntry]:
    access_log_drain(max_seconds=0)  # with the Redis ledger, its stream into the database
    return list(
        AccessLogEntry.objects.filter(principal=f"licence:{licensee.licence.pk}").order_by("pk")
    )


def _posts(count: int):
    return PostFactory.create_batch(count, author=UserFactory(ai_training_allowed=True))


def test_dry_run_serves_past_the_quota_and_records_what_it_would_refuse(settings):
    """Ensures that with ACCESS_ENFORCEMENT=dry-run the licensed endpoint serves the whole
    page past the quota, counts it, and its record says what enforce would have refused."""
    settings.ACCESS_ENFORCEMENT = "dry-run"
    licensee = make_licensee(quota=3)
    _posts(5)
    response = licensee.client.get(URL)
    assert response.status_code == 200 and len(response.json()) == 5
    [record] = _records(licensee)
    assert (record.mode, record.delivered, record.newly_charged) == ("dry-run", 5, 5)
    assert (record.refused, record.remaining) == (2, 0)


def test_enforcement_off_charges_and_records_nothing(settings):
    """Ensures that with ACCESS_ENFORCEMENT=off (benchmarks only) the licensed endpoint, like
    every read, charges nothing and writes no record."""
    settings.ACCESS_ENFORCEMENT = "off"
    licensee = make_licensee(quota=3)
    _posts(5)
    assert len(licensee.client.get(URL).json()) == 5
    assert _records(licensee) == []
    assert not LicenceMonth.objects.filter(licence=licensee.licence, used__gt=0).exists()


def test_a_refusal_is_recorded_as_a_429_with_the_charge(settings):
    """Ensures that enforce cuts the page at the quota, the next request is a 429, and each
    request left one record written with its charge (delivered, charged, remaining)."""
    licensee = make_licensee(quota=3)
    _posts(5)
    assert len(licensee.client.get(URL).json()) == 3
    older = licensee.client.get(URL, {"max_id": min(p["id"] for p in [])} if False else {})
    assert older.status_code == 200  # the same three again today: free
    fresh = PostFactory(author=UserFactory(ai_training_allowed=True))
    refused = licensee.client.get(URL, {"since_id": fresh.pk - 1})
    assert refused.status_code == 429
    records = _records(licensee)
    assert [(r.status, r.delivered, r.newly_charged, r.remaining) for r in records] == [
        (200, 3, 3, 0),
        (200, 3, 0, 0),
        (429, 0, 0, 0),
    ]


def test_the_record_commits_with_the_charge_or_not_at_all(monkeypatch, settings):
    """Ensures that on the database ledger the access-log record is written in the charge's
    own transaction: if writing it fails, the charge is rolled back too."""
    settings.ACCESS_LEDGER = "database"
    licensee = make_licensee(quota=3)
    _posts(2)

    def broken(**kwargs):
        raise RuntimeError("the access log is gone")

    # Where the quota ledger's record is written (access.ledgers.charge_record_write).
    monkeypatch.setattr("access.ledgers.access_log_write", broken)
    with pytest.raises(RuntimeError):
        licensee.client.get(URL)
    assert not LicenceMonth.objects.filter(licence=licensee.licence, used__gt=0).exists()


def test_an_unreachable_quota_ledger_fails_closed(monkeypatch):
    """Ensures that when the quota's Redis is down the licensed endpoint delivers and charges
    nothing, answers 429 saying so with a short Retry-After, and still records the request."""
    if not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        skip_or_fail("this test stops a redis-server of its own: install redis-server")
    server = RedisServer()
    ledger = RedisQuotaLedger(client=server.client(), key_prefix=f"t-{uuid.uuid4().hex}")
    monkeypatch.setattr("licensing.services.quota_ledger_get", lambda: ledger)
    licensee = make_licensee(quota=3)
    _posts(2)
    assert licensee.client.get(URL).status_code == 200
    server.stop()
    response = licensee.client.get(URL)
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "licence_quota_unavailable" and "retry" in body["error"].lower()
    assert int(response["Retry-After"]) <= 120
    records = AccessLogEntry.objects.filter(principal=f"licence:{licensee.licence.pk}")
    assert [(r.status, r.delivered) for r in records] == [(429, 0)]  # the stream's is gone

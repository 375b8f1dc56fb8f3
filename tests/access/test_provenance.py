"""Tests for delivery provenance (issue 17): which posts went to which reader, written with the
access-log record on both ledgers, idempotent through the Redis drain, append-only, purged only
by the recorded retention job."""

import uuid
from datetime import date, timedelta

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from access.access_log import access_record_build
from access.access_log_drain import access_log_drain
from access.gate import read_gate
from access.ledgers import RedisLedger
from access.models import AccessLogEntry, DeliveryProvenance
from access.services_provenance import provenance_purge
from accounts.models import Tier
from accounts.services import token_create
from core.models import AdminActionLog
from tests.factories import UserFactory

from .test_access_log import fresh, stored


@pytest.fixture
def tiny():
    return Tier.objects.create(slug="tiny", name="Tiny", daily_read_budget=3)


def provenance() -> list[DeliveryProvenance]:
    return list(DeliveryProvenance.objects.order_by("created_at", "pk"))


def test_provenance_holds_the_newly_delivered_ids(gate_ledger, noon, make_request, tiny):
    """Ensures that each pass that delivers new posts writes one provenance row with exactly
    the ids newly delivered, the reader, IP, prefix and day, beside its access-log record; a
    re-read, a refusal and an empty page write none."""
    reader = UserFactory(tier_override=tiny)
    read_gate(request=make_request(fresh(reader), ip="198.51.100.9"), post_ids=[1, 2])
    read_gate(request=make_request(fresh(reader), ip="198.51.100.9"), post_ids=[2, 3, 4])
    read_gate(request=make_request(fresh(reader)), post_ids=[5])  # refused
    read_gate(request=make_request(fresh(reader)), post_ids=[1, 2, 3])  # re-reads
    read_gate(request=make_request(fresh(reader)), post_ids=[])
    records = stored(gate_ledger)
    rows = provenance()
    assert [row.post_ids for row in rows] == [[1, 2], [3]]
    assert [row.post_count for row in rows] == [2, 1]
    by_record = {record.record_id: record for record in records}
    for row in rows:
        assert row.record_id in by_record
        assert row.principal == f"user:{reader.pk}"
        assert row.user_id == reader.pk
        assert row.client_ip == "198.51.100.9"
        assert row.ip_prefix == "198.51.100.0/24"
        assert row.day == date(2026, 11, 26)


def test_provenance_of_an_anonymous_reader_and_a_token(gate_ledger, noon, make_request):
    """Ensures that a logged-out reader's provenance names its IP principal, and a token
    reader's names the token."""
    read_gate(request=make_request(ip="203.0.113.44"), post_ids=[7, 8])
    reader = UserFactory()
    token, _ = token_create(user=reader, name="harvester", scopes=["read"])
    request = make_request(fresh(reader), ip="192.0.2.5")
    request.auth = token
    read_gate(request=request, post_ids=[9])
    stored(gate_ledger)
    anonymous, tokened = provenance()
    assert anonymous.principal.startswith("ip:203.0.113.44")
    assert anonymous.user_id is None and anonymous.post_ids == [7, 8]
    assert tokened.token_id == token.pk and tokened.post_ids == [9]


@pytest.mark.django_db
def test_a_drained_entry_stored_twice_is_kept_once(private_redis, rf):
    """Ensures that draining the same stream entries twice (a crash between the commit and the
    XACK) stores each record's provenance once."""
    ledger = RedisLedger(client=private_redis.client(), key_prefix=f"test-{uuid.uuid4().hex}")
    request = rf.get("/")
    request.user = None
    record = access_record_build(
        request=request, principal="ip:10.0.0.1/32", tier="anonymous", mode="enforce",
        limit=None, now=timezone.now(),
    )  # fmt: skip
    ledger.charge(
        principal=record.principal, day=timezone.now().date(), limit=None, post_ids=[4, 5],
        record=record,
    )  # fmt: skip
    entries = ledger.client.xrange(ledger.stream_key)
    ledger.client.xadd(ledger.stream_key, entries[0][1])  # the same record once more
    access_log_drain(client=ledger.client, key_prefix=ledger.key_prefix, max_seconds=0)
    assert AccessLogEntry.objects.count() == 1
    assert [row.post_ids for row in provenance()] == [[4, 5]]


@pytest.mark.django_db
def test_provenance_and_record_commit_together(make_request, noon, use_ledger):
    """Ensures that on the database ledger a charge whose transaction rolls back leaves
    neither the access-log record nor its provenance."""
    from access.ledgers import DatabaseLedger

    use_ledger(DatabaseLedger())
    reader = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        read_gate(request=make_request(fresh(reader)), post_ids=[1, 2, 3])
        raise RuntimeError("the view failed after the gate")
    assert not AccessLogEntry.objects.exists()
    assert not DeliveryProvenance.objects.exists()


@pytest.mark.django_db
def test_purge_deletes_only_past_retention_and_is_recorded(make_request, use_ledger):
    """Ensures that the provenance purge deletes rows older than ACCESS_PROVENANCE_DAYS, keeps
    the rest, and records itself in the admin action log before deleting."""
    from access.ledgers import DatabaseLedger

    use_ledger(DatabaseLedger())
    reader = UserFactory()
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        read_gate(request=make_request(fresh(reader)), post_ids=[1])
    read_gate(request=make_request(fresh(reader)), post_ids=[2])
    assert provenance_purge() == 1
    assert [row.post_ids for row in provenance()] == [[2]]
    logged = AdminActionLog.objects.get(action="provenance_purge")
    assert logged.actor is None and logged.details["to_delete"] == 1


@pytest.mark.django_db
def test_provenance_is_append_only_on_postgres(require_postgres, make_request, use_ledger):
    """Ensures that on PostgreSQL an UPDATE or a DELETE outside the purge is refused."""
    from access.ledgers import DatabaseLedger

    use_ledger(DatabaseLedger())
    read_gate(request=make_request(fresh(UserFactory())), post_ids=[1, 2])
    for statement in (
        "UPDATE access_deliveryprovenance SET post_count = 0",
        "DELETE FROM access_deliveryprovenance",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert DeliveryProvenance.objects.get().post_ids == [1, 2]


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_killed_drain_worker_loses_no_provenance(require_postgres, require_redis, rf):
    """Ensures that a real Celery worker SIGKILLed half way through draining, and another
    started after it, store every record's provenance exactly once with its ids."""
    import signal
    import time

    from django.conf import settings
    from kombu import Connection

    from microblog.celery import app

    from .test_access_log_live import celery_worker, wait_for
    from .test_concurrency import postgres_url, worker_env

    records = 1500
    broker = Connection(settings.REDIS_URL)
    prefix = f"prov-{uuid.uuid4().hex}"
    ledger = RedisLedger(key_prefix=prefix)
    day = timezone.now().date()
    expected = {}
    for index in range(records):
        request = rf.get("/api/v1/timelines/public", HTTP_USER_AGENT=f"prov/{index}")
        request.user = None
        record = access_record_build(
            request=request, principal=f"ip:10.1.{index % 200}.1/32", tier="anonymous",
            mode="enforce", limit=None, now=timezone.now(),
        )  # fmt: skip
        ids = [index, 100_000 + index]
        ledger.charge(principal=record.principal, day=day, limit=None, post_ids=ids,
                      record=record)  # fmt: skip
        expected[record.record_id] = ids
    env = worker_env(
        DATABASE_URL=postgres_url(), REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.REDIS_URL, CELERY_TASK_ALWAYS_EAGER="0",
        ACCESS_REDIS_KEY_PREFIX=prefix, ACCESS_LOG_DRAIN_BATCH="10",
        ACCESS_LOG_DRAIN_MAX_SECONDS="0", ACCESS_LOG_DRAIN_CLAIM_IDLE_SECONDS="1", DEBUG="0",
    )  # fmt: skip
    first = celery_worker(env, f"prov-kill-{uuid.uuid4().hex[:6]}")
    second = None
    try:
        app.send_task("access.tasks.access_log_drain_task", connection=broker)
        assert wait_for(lambda: DeliveryProvenance.objects.count() >= 150, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        at_kill = DeliveryProvenance.objects.count()
        assert at_kill < records
        second = celery_worker(env, f"prov-next-{uuid.uuid4().hex[:6]}")
        time.sleep(1.1)  # let the dead consumer's entries become claimable
        app.send_task("access.tasks.access_log_drain_task", connection=broker)
        assert wait_for(
            lambda: (
                ledger.client.xlen(ledger.stream_key) == 0
                and DeliveryProvenance.objects.count() >= records
            ),
            timeout=120,
        )
    finally:
        broker.release()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
    rows = dict(DeliveryProvenance.objects.values_list("record_id", "post_ids"))
    print(f"\n[provenance drain] records={records} stored-before-kill={at_kill} stored={len(rows)}")
    assert rows == expected
    assert DeliveryProvenance.objects.count() == records
    assert AccessLogEntry.objects.count() == records
    ledger.client.delete(ledger.stream_key)


def test_a_refused_repost_keeps_no_provenance(gate_ledger, noon, make_request):
    """Ensures that when a page's first post is a repost whose original does not fit (a 429,
    nothing delivered), no provenance is kept, on either ledger."""
    one = Tier.objects.create(slug="one", name="One", daily_read_budget=1)
    reader = UserFactory(tier_override=one)
    read_gate(request=make_request(fresh(reader)), post_ids=[10, 11], first_post_ids=2)
    records = stored(gate_ledger)
    assert [r.status for r in records] == [429]
    assert provenance() == []

"""Tests for the Redis Cluster key layout of the read ledger and the access log
(``ACCESS_LOG_SHARDS``, docs/architecture.md "Redis keys"): each reader's ledger set and the
access-log stream its records go to share one hash slot (so the charging script, one round
trip, is legal on Redis Cluster), readers spread over the streams, and the drain stores every
record of every stream exactly once."""

import uuid

import pytest
from django.test import override_settings
from redis.crc import key_slot

from access.gate import read_gate, window_day
from access.ledgers import RedisLedger
from access.models import AccessLogEntry
from tests.factories import UserFactory

from .test_access_log import fresh, stored

SHARDS = 4


@pytest.fixture
def sharded_ledger(db, private_redis, use_ledger):
    with override_settings(ACCESS_LOG_SHARDS=SHARDS):
        yield use_ledger(
            RedisLedger(client=private_redis.client(), key_prefix=f"t-{uuid.uuid4().hex}")
        )


def test_reader_keys_and_their_stream_share_a_slot(sharded_ledger):
    """Ensures that for users and anonymous readers alike, the ledger set and the stream the
    script writes to hash to the same Redis Cluster slot, and readers use several streams."""
    day = window_day()
    streams = set()
    for principal in [*(f"user:{n}" for n in range(1, 40)), "ip:192.0.2.7", "ip:2001:db8::/64"]:
        ledger_key = sharded_ledger.key(principal, day)
        stream_key = sharded_ledger.stream_key_for(principal)
        assert key_slot(ledger_key.encode()) == key_slot(stream_key.encode()), principal
        streams.add(stream_key)
    assert len(streams) == SHARDS


def test_every_record_of_every_stream_is_drained_once(sharded_ledger, noon, make_request):
    """Ensures that records spread over the shards' streams are all stored by one drain, once
    each, and that the streams are left empty."""
    readers = [UserFactory() for _ in range(10)]
    for reader in readers:
        for page in ([1, 2], [2, 3], []):
            read_gate(request=make_request(fresh(reader)), post_ids=page)
    read_gate(request=make_request(), post_ids=[9])  # an anonymous reader too
    client = sharded_ledger.client
    lengths = [client.xlen(sharded_ledger.stream_key_for(f"user:{n}")) for n in range(SHARDS)]
    assert sum(1 for length in lengths if length) > 1  # really spread
    rows = stored(sharded_ledger)
    assert len(rows) == 31 == AccessLogEntry.objects.count()
    assert len({row.record_id for row in rows}) == 31
    assert stored(sharded_ledger) == rows  # a second drain adds nothing
    for n in range(SHARDS):
        assert client.xlen(sharded_ledger.stream_key_for(f"user:{n}")) == 0

"""Faults: a real Celery worker killed (SIGKILL) while it runs the bulk-access detectors.

After the restart every flag the log calls for exists exactly once, with the same evidence
as an uninterrupted run: 0 lost, 0 duplicated. How it holds (docs/audit.md, "Crashes"):
each batch of records is one transaction that moves the cursor together with the flags it
raised, so a kill rolls the batch back whole; the task is acknowledged late, so the broker
still holds the message of the killed run and delivers it again; a killed pool process is
noticed by its worker, which sends the run again (``retry_on_worker_lost``).

To kill the worker *inside* a batch, deterministically: once the first flags are committed
the test takes ``LOCK TABLE access_flag IN EXCLUSIVE MODE`` from its own connection. The
worker's next batch (cursor row locked, records read) then waits on its first flag write,
which pg_stat_activity shows; that is when the test kills it. Releasing the lock afterwards
lets the dead worker's backend notice that its client is gone and roll the batch back.

Each run is checked against a reference: the same log through the detectors in-process,
uninterrupted. PostgreSQL + Redis (the broker) only; figures are printed (``-s``).
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from access import detectors
from access.detectors import CURSOR_NAME, detect_bulk_access
from access.models import AccessLogEntry, DetectorCursor, Flag
from core.client_ip import review_prefix
from tests.access.test_access_log_live import wait_for
from tests.access.test_concurrency import postgres_url, worker_env
from tests.factories import UserFactory

REPO = Path(__file__).resolve().parents[2]
TASK = "access.tasks.detect_bulk_access_task"
BATCH = 20  # records per transaction: a run of ~36 batches, so the kill lands mid-run
SCRAPERS = 6
REQUESTS_EACH = 120
NETWORK = "198.51.100"
TOKEN_ID = 77  # the last scraper reads with one API token from rotating addresses
USER_RULES = (
    detectors.BUDGET_EXHAUSTED,
    detectors.READ_VELOCITY,
    detectors.DEEP_PAGING,
    detectors.SCRAPER_USER_AGENT,
    detectors.IGNORED_429,
)
FLAG_FIELDS = (
    "principal", "rule", "user_id", "token_id", "ip_prefix", "score", "first_seen", "last_seen",
    "evidence", "status",
)  # fmt: skip

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    # send_task goes to the broker whatever the test settings say about eager tasks.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def seed_scrapers() -> set[tuple[str, str]]:
    """Six accounts scraping one after another from one /24, and the flags that calls for.

    Each pages back with ``max_id`` as python-requests, 20 posts a request every 2 s, through
    its 500-post budget and on past the 429s; the sixth rotates its token over 8 addresses.
    """
    start = timezone.now() - timedelta(hours=2)
    users = [UserFactory() for _ in range(SCRAPERS)]
    rows = []
    for index, user in enumerate(users):
        for step in range(REQUESTS_EACH):
            rotating = index == SCRAPERS - 1
            ip = f"{NETWORK}.{10 + index if not rotating else 100 + step % 8}"
            refused = step >= 25
            rows.append(
                AccessLogEntry(
                    record_id=uuid.uuid4().hex,
                    created_at=start + timedelta(minutes=5 * index, seconds=2 * step),
                    principal=f"user:{user.pk}",
                    user=user,
                    token_id=TOKEN_ID if rotating else None,
                    tier="new",
                    client_ip=ip,
                    ip_prefix=review_prefix(ip),
                    user_agent="python-requests/2.32",
                    route_name="api:timeline_public",
                    path="/api/v1/timelines/public",
                    paging={"max_id": str(900_000 - step * 20)},
                    status=429 if refused else 200,
                    delivered=0 if refused else 20,
                    newly_charged=0 if refused else 20,
                    refused=20 if refused else 0,
                    remaining=max(0, 500 - 20 * (step + 1)),
                    mode="enforce",
                )
            )
    AccessLogEntry.objects.bulk_create(rows)
    expected = {(f"user:{user.pk}", rule) for user in users for rule in USER_RULES}
    expected |= {(f"net:{NETWORK}.0/24", detectors.SHARED_PREFIX)}
    expected |= {(f"token:{TOKEN_ID}", detectors.MANY_IPS)}
    return expected


def flags_snapshot() -> list[tuple]:
    return sorted(Flag.objects.values_list(*FLAG_FIELDS), key=lambda row: row[:2])


def cursor_position() -> int:
    return (
        DetectorCursor.objects.filter(name=CURSOR_NAME)
        .values_list("last_entry_id", flat=True)
        .first()
        or 0
    )


def start_worker(env: dict, name: str) -> subprocess.Popen:
    """A Celery worker with one pool process (prefork, as in production), in its own process
    group so that the whole worker can be killed at once, as when its machine dies.

    (Not the solo pool: it runs the task inside the event loop, which then cannot send even an
    early acknowledgement before the task ends, so a kill there says nothing about acks_late.)
    """
    celery = str(Path(sys.executable).with_name("celery"))
    return subprocess.Popen(
        [celery, "-A", "microblog", "worker", "--pool", "prefork", "--concurrency", "1",
         "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "--without-heartbeat",
         "--loglevel", "WARNING"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def env_for_workers(app_name: str) -> dict:
    """Workers on the test database and the Redis broker; their connections carry
    ``app_name`` (PGAPPNAME) so pg_stat_activity tells them apart."""
    return worker_env(
        DATABASE_URL=postgres_url(),
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="0",
        PGAPPNAME=app_name,
        DEBUG="0",
    )


def stop(worker: subprocess.Popen | None) -> None:
    if worker is not None and worker.poll() is None:
        worker.terminate()
        worker.wait(timeout=30)


def backends(app_name: str) -> list[dict]:
    """The worker's PostgreSQL backends (marked by PGAPPNAME), as pg_stat_activity sees them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, wait_event_type, xact_start IS NOT NULL FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [app_name],
        )
        return [
            {"pid": pid, "state": state, "wait": wait, "in_transaction": in_transaction}
            for pid, state, wait, in_transaction in cursor.fetchall()
        ]


class Broker:
    """The Redis broker the workers use: send the detector task, see what it still holds."""

    def __init__(self):
        import redis
        from kombu import Connection

        self.connection = Connection(settings.REDIS_URL)
        self.redis = redis.Redis.from_url(settings.REDIS_URL)

    def send(self) -> str:
        from microblog.celery import app

        result = app.send_task(TASK, kwargs={"batch_size": BATCH}, connection=self.connection)
        return result.id

    def unacked_tag(self, task_id: str) -> str | None:
        """The delivery tag under which the broker keeps ``task_id`` unacknowledged."""
        for tag, raw in self.redis.hgetall("unacked").items():
            message = json.loads(raw)[0]
            if message["headers"]["id"] == task_id:
                return tag.decode()
        return None

    def redeliver(self, tag: str) -> None:
        """What kombu does once the visibility timeout (1 h by default) has passed."""
        self.connection.default_channel.qos.restore_by_tag(tag)

    def idle(self) -> bool:
        return self.redis.llen("celery") == 0 and self.redis.hlen("unacked") == 0

    def close(self) -> None:
        self.connection.release()


@pytest.fixture
def detector_world(require_postgres, require_redis):
    """The seeded log, the flags an uninterrupted run raises from it (the reference), then a
    clean slate (no flag, cursor at 0) for the run under test."""
    expected = seed_scrapers()
    detect_bulk_access(batch_size=BATCH)
    reference = flags_snapshot()
    assert {row[:2] for row in reference} == expected, "the seeded log no longer flags as planned"
    Flag.objects.all().delete()
    DetectorCursor.objects.update(last_entry_id=0)
    broker = Broker()
    yield expected, reference, broker
    broker.close()


def run_until_blocked_mid_batch(env: dict, broker: Broker, app_name: str):
    """Start a worker and the detector task; once the first flags are committed, lock the
    flag table and wait until the worker's next batch waits on it. Returns the worker, the
    task id and the open locking connection."""
    worker = start_worker(env, f"detect-{uuid.uuid4().hex[:6]}")
    task_id = broker.send()
    assert wait_for(lambda: Flag.objects.exists(), timeout=60), "the worker raised no flag"
    lock = psycopg.connect(postgres_url())
    lock.execute("LOCK TABLE access_flag IN EXCLUSIVE MODE")
    blocked = wait_for(
        lambda: any(b["wait"] == "Lock" and b["in_transaction"] for b in backends(app_name)),
        timeout=30,
    )
    assert blocked, (
        f"the worker did not block mid-run (cursor {cursor_position()} of {last_record_id()})"
    )
    return worker, task_id, lock


def assert_complete(expected: set, reference: list, label: str, at_kill: dict) -> None:
    flags = flags_snapshot()
    keys = [row[:2] for row in flags]
    print(
        f"\n[detector kill] {label}: records={AccessLogEntry.objects.count()} "
        f"read-at-kill={at_kill['read']} flags-at-kill={at_kill['flags']} "
        f"flags-after={len(flags)} expected={len(expected)} "
        f"duplicated={len(keys) - len(set(keys))} lost={len(expected - set(keys))}"
    )
    assert len(keys) == len(set(keys))  # no principal+rule twice
    assert set(keys) == expected  # none lost, none extra
    assert flags == reference  # and each as an uninterrupted run leaves it
    assert cursor_position() == last_record_id()


def last_record_id() -> int:
    return AccessLogEntry.objects.order_by("-id").values_list("id", flat=True)[0]


def killed_state() -> dict:
    """Where the killed run stood: the cursor, the records it had read, the flags raised."""
    cursor = cursor_position()
    return {
        "cursor": cursor,
        "read": AccessLogEntry.objects.filter(id__lte=cursor).count(),
        "flags": Flag.objects.count(),
    }


def test_detector_worker_killed_mid_run_loses_and_duplicates_no_flag(detector_world):
    """Ensures that a Celery worker SIGKILLed in the middle of a detector batch, then a new
    worker started and the unacknowledged run delivered to it again, leaves every expected
    flag exactly once, equal to an uninterrupted run's."""
    expected, reference, broker = detector_world
    app_name = f"detector-kill-{uuid.uuid4().hex[:8]}"
    env = env_for_workers(app_name)
    started = time.monotonic()
    worker, task_id, lock = run_until_blocked_mid_batch(env, broker, app_name)
    second = None
    try:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool process
        worker.wait(timeout=10)
        at_kill = killed_state()
        assert 0 < at_kill["flags"] < len(expected) and 0 < at_kill["cursor"] < last_record_id()
        # Acknowledged late: the broker still holds the killed run.
        tag = broker.unacked_tag(task_id)
        assert tag is not None, "the killed run was acknowledged: it would be lost"
        lock.rollback()  # the dead worker's backend ends, rolling its batch back
        assert wait_for(lambda: not backends(app_name), timeout=30)
        assert killed_state() == at_kill  # the batch in flight left nothing behind
        second = start_worker(env, f"detect-next-{uuid.uuid4().hex[:6]}")
        broker.redeliver(tag)
        assert wait_for(
            lambda: cursor_position() == last_record_id() and broker.idle(), timeout=120
        )
    finally:
        lock.close()
        stop(worker)
        stop(second)
    assert_complete(
        expected, reference, f"worker SIGKILLed, {time.monotonic() - started:.1f}s", at_kill
    )


def test_detector_pool_process_killed_mid_run_is_run_again(detector_world):
    """Ensures that when the pool process running a detector batch is SIGKILLed, its worker
    sends the run again by itself (nothing re-sent by hand) and the flags end up exactly as
    an uninterrupted run leaves them."""
    expected, reference, broker = detector_world
    app_name = f"detector-pool-{uuid.uuid4().hex[:8]}"
    env = env_for_workers(app_name)
    started = time.monotonic()
    worker, _task_id, lock = run_until_blocked_mid_batch(env, broker, app_name)
    try:
        children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGKILL)
        at_kill = killed_state()
        assert 0 < at_kill["flags"] < len(expected) and 0 < at_kill["cursor"] < last_record_id()
        lock.rollback()
        assert wait_for(
            lambda: cursor_position() == last_record_id() and broker.idle(), timeout=120
        )
        assert worker.poll() is None  # the worker itself lived on
    finally:
        lock.close()
        stop(worker)
    assert_complete(
        expected, reference, f"pool process SIGKILLed, {time.monotonic() - started:.1f}s", at_kill
    )

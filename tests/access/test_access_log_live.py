"""End to end: the access log under real concurrency and real crashes.

- A live gunicorn (4 processes x 4 threads) and 32 concurrent HTTP clients: the number of
  records equals the number of 200 + 429 responses, on the database ledger (SQLite file and
  PostgreSQL) and on PostgreSQL + Redis (after draining the stream).
- A gunicorn worker SIGKILLed mid-load: every response a client received has its record.
- A real Celery worker SIGKILLed while draining the stream, then another started: no record
  lost, none duplicated.

Each request carries a unique User-Agent, which the record keeps, so responses and records can
be matched one to one. Figures are printed (``-s``).
"""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from access.access_log import access_record_build
from access.access_log_drain import DRAIN_GROUP, access_log_drain
from access.ledgers import RedisLedger
from access.models import AccessLogEntry
from accounts.models import Tier
from tests.factories import PostFactory, UserFactory
from tests.sqlite_files import sqlite_file_migrated

from .test_concurrency import postgres_url, worker_env
from .test_live_concurrency import start_server

REPO = Path(__file__).resolve().parents[2]
BUDGET = 100
CLIENTS = 32
REQUESTS_PER_CLIENT = 8  # 256 requests for a budget of 100: plenty of 200s and of 429s

transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_load(base: str, post_ids: list[int], marker: str, *, on_progress=None) -> dict:
    """CLIENTS threads, each opening REQUESTS_PER_CLIENT post pages (carrying on after 429s).

    Returns ``{"received": {user_agent: status}, "failed": [errors]}``; ``on_progress(n)`` is
    called after each received response (to kill something mid-load).
    """
    barrier = threading.Barrier(CLIENTS)
    lock = threading.Lock()
    received: dict[str, int] = {}
    failed: list[str] = []

    def client(index: int) -> None:
        barrier.wait(timeout=60)
        for step in range(REQUESTS_PER_CLIENT):
            post_id = post_ids[(index * REQUESTS_PER_CLIENT + step) % len(post_ids)]
            agent = f"{marker}/{index}/{step}"
            request = urllib.request.Request(  # noqa: S310 - local test server
                f"{base}/posts/{post_id}/", headers={"User-Agent": agent}
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError as exc:  # the worker serving it died: no response
                with lock:
                    failed.append(repr(exc))
                continue
            with lock:
                received[agent] = status
                count = len(received)
            if on_progress:
                on_progress(count)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"received": received, "failed": failed}


def gunicorn_workers(master: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def killer(master: subprocess.Popen, after: int) -> tuple:
    """An ``on_progress`` that SIGKILLs one gunicorn worker once ``after`` responses arrived."""
    killed: list[int] = []
    lock = threading.Lock()

    def on_progress(count: int) -> None:
        with lock:
            if count >= after and not killed:
                victim = gunicorn_workers(master)[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

    return on_progress, killed


def check(label: str, outcome: dict, records: dict[str, int], killed=()) -> None:
    """Every received response has its record with the same status; print the figures."""
    received = outcome["received"]
    answered = [s for s in received.values() if s in (200, 429)]
    print(
        f"\n[access log live] {label}: requests={CLIENTS * REQUESTS_PER_CLIENT} "
        f"responses 200={answered.count(200)} 429={answered.count(429)} "
        f"other={[s for s in received.values() if s not in (200, 429)][:5]} "
        f"no-response={len(outcome['failed'])} records={len(records)} "
        f"killed-workers={list(killed)}"
    )
    assert len(answered) == len(received)  # nothing but 200 and 429
    missing = [agent for agent in received if agent not in records]
    assert missing == []
    assert all(records[agent] == status for agent, status in received.items())
    # A request whose worker died after its commit may have a record but no response.
    assert len(received) <= len(records) <= len(received) + len(outcome["failed"])
    if not killed:
        assert len(records) == len(received) and outcome["failed"] == []


# --- On SQLite (a file every server process shares): always runs ----------------------------


@pytest.fixture(scope="module")
def sqlite_site(tmp_path_factory):
    """A migrated on-disk SQLite database with posts, and the env for processes using it."""
    path = tmp_path_factory.mktemp("audit") / "audit.sqlite3"
    env = worker_env(DATABASE_URL=None, REDIS_URL=None, SQLITE_PATH=str(path))
    manage = [sys.executable, "manage.py"]
    sqlite_file_migrated(path)
    script = (
        "from accounts.models import User, Tier; from feeds.models import Post;"
        f"Tier.objects.filter(slug='anonymous').update(daily_read_budget={BUDGET});"
        "u = User.objects.create(username='author', email='a@example.com');"
        "Post.objects.bulk_create([Post(author=u, text=f'p{i}') for i in range(400)]);"
        "print(','.join(str(p) for p in Post.objects.values_list('pk', flat=True)))"
    )
    out = subprocess.run(
        [*manage, "shell", "-c", script], cwd=REPO, env=env, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    post_ids = [int(pk) for pk in out.stdout.strip().splitlines()[-1].split(",")]
    return env, path, post_ids


def sqlite_records(path: Path, marker: str) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT user_agent, status FROM access_accesslogentry WHERE user_agent LIKE ?",
            (f"{marker}/%",),
        ).fetchall()
    assert len(rows) == len({agent for agent, _ in rows})  # one record per request
    return dict(rows)


def serve(env: dict, **extra) -> tuple[subprocess.Popen, str]:
    env = dict(env, ACCESS_ENFORCEMENT="enforce", DEBUG="0", SECURE_SSL_REDIRECT="0",
               TRUSTED_PROXY_COUNT="0", LOG_LEVEL="ERROR", **extra)  # fmt: skip
    return start_server(env)


@pytest.mark.embedded_only
def test_records_equal_responses_sqlite(sqlite_site):
    """Ensures that on the database ledger (SQLite file), 32 concurrent clients through 4
    server processes get exactly one record per 200 or 429 response."""
    env, path, post_ids = sqlite_site
    marker = f"eq-{uuid.uuid4().hex[:8]}"
    proc, base = serve(env, ACCESS_LEDGER="database")
    try:
        outcome = run_load(base, post_ids, marker)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    check("database ledger / sqlite", outcome, sqlite_records(path, marker))


@pytest.mark.embedded_only
def test_killed_web_worker_loses_no_record_sqlite(sqlite_site):
    """Ensures that when a gunicorn worker is SIGKILLed mid-load, every response a client
    received still has its record (database ledger, SQLite file)."""
    env, path, post_ids = sqlite_site
    marker = f"kill-{uuid.uuid4().hex[:8]}"
    proc, base = serve(env, ACCESS_LEDGER="database")
    try:
        on_progress, killed = killer(proc, after=40)
        outcome = run_load(base, post_ids, marker, on_progress=on_progress)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert killed
    check("database ledger / sqlite, worker killed", outcome, sqlite_records(path, marker), killed)


# --- On PostgreSQL, and PostgreSQL + Redis --------------------------------------------------


def _pg_site():
    Tier.objects.filter(slug=Tier.ANONYMOUS).update(daily_read_budget=BUDGET)
    author = UserFactory()
    return [PostFactory(author=author).pk for _ in range(CLIENTS * REQUESTS_PER_CLIENT)]


def pg_records(marker: str, prefix: str | None = None) -> dict[str, int]:
    if prefix is not None:
        ledger = RedisLedger(key_prefix=prefix)
        access_log_drain(client=ledger.client, key_prefix=prefix, max_seconds=0)
        assert ledger.client.xlen(ledger.stream_key) == 0
    rows = list(
        AccessLogEntry.objects.filter(user_agent__startswith=f"{marker}/").values_list(
            "user_agent", "status"
        )
    )
    assert len(rows) == len({agent for agent, _ in rows})
    return dict(rows)


def _pg_run(label: str, ledger: str, *, kill: bool, redis: bool) -> None:
    post_ids = _pg_site()
    marker = f"pg-{uuid.uuid4().hex[:8]}"
    prefix = f"live-{uuid.uuid4().hex}" if redis else None
    extra = {"DATABASE_URL": postgres_url(), "ACCESS_LEDGER": ledger}
    extra.update(
        {"REDIS_URL": settings.REDIS_URL, "ACCESS_REDIS_KEY_PREFIX": prefix}
        if redis
        else {"REDIS_URL": ""}
    )
    proc, base = serve(dict(os.environ), **extra)
    killed: list[int] = []
    try:
        on_progress = None
        if kill:
            on_progress, killed = killer(proc, after=40)
        outcome = run_load(base, post_ids, marker, on_progress=on_progress)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if kill:
        assert killed
    check(label, outcome, pg_records(marker, prefix), killed)


@transactional
def test_records_equal_responses_postgres(require_postgres):
    """Ensures one record per 200/429 response on the database ledger on PostgreSQL."""
    _pg_run("database ledger / postgresql", "database", kill=False, redis=False)


@transactional
def test_records_equal_responses_redis(require_postgres, require_redis):
    """Ensures one record per 200/429 response on the Redis ledger, after the drain."""
    _pg_run("redis ledger / postgresql", "redis", kill=False, redis=True)


@transactional
def test_killed_web_worker_loses_no_record_postgres(require_postgres):
    """Ensures that a SIGKILLed worker loses no record of a received response (PostgreSQL)."""
    _pg_run("database ledger / postgresql, worker killed", "database", kill=True, redis=False)


@transactional
def test_killed_web_worker_loses_no_record_redis(require_postgres, require_redis):
    """Ensures the same on the Redis ledger: the record is in the stream before the response
    leaves, so a dead worker cannot take it along."""
    _pg_run("redis ledger / postgresql, worker killed", "redis", kill=True, redis=True)


# --- A Celery worker killed while draining -------------------------------------------------

STREAM_RECORDS = 3000


def celery_worker(env: dict, name: str) -> subprocess.Popen:
    celery = str(Path(sys.executable).with_name("celery"))
    return subprocess.Popen(
        [celery, "-A", "microblog", "worker", "--pool", "solo", "-n", f"{name}@%h",
         "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def claimable(ledger, *, idle_ms: int) -> bool:
    """True when every entry pending in the drain group has been idle at least ``idle_ms``."""
    pending = ledger.client.xpending_range(ledger.stream_key, DRAIN_GROUP, "-", "+", 10_000)
    return all(entry["time_since_delivered"] >= idle_ms for entry in pending)


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
@transactional
def test_killed_celery_worker_loses_and_duplicates_nothing(require_postgres, require_redis, rf):
    """Ensures that a real Celery worker SIGKILLed half way through draining the stream, and
    another started after it, store every record exactly once: 0 lost, 0 duplicated, nothing
    left pending."""
    from kombu import Connection

    from microblog.celery import app

    # Through the Redis broker the workers below use, whatever CELERY_BROKER_URL says.
    broker = Connection(settings.REDIS_URL)

    def drain_now():
        app.send_task("access.tasks.access_log_drain_task", connection=broker)

    prefix = f"drain-{uuid.uuid4().hex}"
    ledger = RedisLedger(key_prefix=prefix)
    day = timezone.now().date()
    expected = set()
    for index in range(STREAM_RECORDS):
        request = rf.get("/posts/1/", HTTP_USER_AGENT=f"drain/{index}")
        request.user = None
        record = access_record_build(
            request=request, principal=f"ip:10.0.{index % 200}.1/32", tier="anonymous",
            mode="enforce", limit=None, now=timezone.now(),
        )  # fmt: skip
        ledger.charge(principal=record.principal, day=day, limit=None, post_ids=[index],
                      record=record)  # fmt: skip
        expected.add(record.record_id)
    assert ledger.client.xlen(ledger.stream_key) == STREAM_RECORDS

    env = worker_env(
        DATABASE_URL=postgres_url(),
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="0",
        ACCESS_REDIS_KEY_PREFIX=prefix,
        ACCESS_LOG_DRAIN_BATCH="10",
        ACCESS_LOG_DRAIN_MAX_SECONDS="0",  # until the stream is empty
        ACCESS_LOG_DRAIN_CLAIM_IDLE_SECONDS="1",
        DEBUG="0",
    )
    first = celery_worker(env, f"audit-kill-{uuid.uuid4().hex[:6]}")
    second = None
    try:
        drain_now()
        assert wait_for(lambda: AccessLogEntry.objects.count() >= 300, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        at_kill = AccessLogEntry.objects.count()
        pending = ledger.client.xpending(ledger.stream_key, DRAIN_GROUP)["pending"]
        assert at_kill < STREAM_RECORDS  # killed while draining

        second = celery_worker(env, f"audit-next-{uuid.uuid4().hex[:6]}")
        # The dead consumer's entries become claimable once idle for CLAIM_IDLE (1 s): wait
        # for Redis to say so rather than for a fixed time.
        assert wait_for(lambda: claimable(ledger, idle_ms=1000), timeout=30)
        drain_now()
        assert wait_for(
            lambda: (
                AccessLogEntry.objects.count() >= STREAM_RECORDS
                and ledger.client.xlen(ledger.stream_key) == 0
            ),
            timeout=120,
        )
    finally:
        broker.release()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
    stored = list(AccessLogEntry.objects.values_list("record_id", flat=True))
    print(
        f"\n[access log drain] records={STREAM_RECORDS} stored-before-kill={at_kill} "
        f"pending-at-kill={pending} stored={len(stored)} distinct={len(set(stored))} "
        f"lost={len(expected - set(stored))} left-pending="
        f"{ledger.client.xpending(ledger.stream_key, DRAIN_GROUP)['pending']}"
    )
    assert len(stored) == len(set(stored)) == STREAM_RECORDS
    assert set(stored) == expected
    assert ledger.client.xpending(ledger.stream_key, DRAIN_GROUP)["pending"] == 0
    ledger.client.delete(ledger.stream_key)

"""Exactness of the licence quota under concurrency, proven as the daily budget is
(tests/access/test_concurrency.py): many callers on one licence page through distinct post
ids, together asking for 8x the quota; both ledgers, threads and several OS processes."""

import subprocess
import sys
import uuid
from datetime import date

import pytest
from django.conf import settings

from licensing.models import LicenceCharge, LicenceMonth
from licensing.quota import DatabaseQuotaLedger, RedisQuotaLedger
from tests.access.concurrency import (
    REPO,
    outcome_report,
    processes_run,
    run_threads,
    sqlite_file_migrate,
    worker_env,
)
from tests.access.concurrency import assert_exact as assert_exact_limit
from tests.access.conftest import private_redis  # noqa: F401 - a fixture
from tests.access.test_concurrency import postgres_url
from tests.licensing.conftest import make_licensee
from tests.licensing.quota_worker import QuotaAdapter

DAY = date(2026, 11, 26)
QUOTA = 200
THREADS = 32
PROCESSES = 4
THREADS_PER_PROCESS = 8
IDS_PER_CALLER = 50
PAGE_SIZE = 5

transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def report(label: str, *, clients: int, processes: int, outcome: dict) -> None:
    outcome_report("quota concurrency", label, clients=clients, processes=processes,
                   limit=QUOTA, outcome=outcome)  # fmt: skip


def assert_exact(outcome: dict) -> None:
    assert_exact_limit(outcome, limit=QUOTA)


def _threads(ledger_factory, licence_id: int) -> dict:
    return run_threads(
        ledger_factory=ledger_factory,
        principal=str(licence_id),
        day=DAY,
        budget=QUOTA,
        threads=THREADS,
        first_id=1,
        ids_per_thread=IDS_PER_CALLER,
        page_size=PAGE_SIZE,
    )


def _worker(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.licensing.quota_worker", *args]


def run_processes(*, ledger: str, env: dict, licence_id: int, key_prefix: str = "") -> dict:
    """Start the workers, release them together, merge what they delivered."""
    commands = [
        _worker(
            "--ledger",
            ledger,
            "--licence",
            str(licence_id),
            "--day",
            DAY.isoformat(),
            "--quota",
            str(QUOTA),
            "--threads",
            str(THREADS_PER_PROCESS),
            "--first-id",
            str(1 + index * THREADS_PER_PROCESS * IDS_PER_CALLER),
            "--ids-per-thread",
            str(IDS_PER_CALLER),
            "--page-size",
            str(PAGE_SIZE),
            "--key-prefix",
            key_prefix,
        )  # fmt: skip
        for index in range(PROCESSES)
    ]
    return processes_run(commands, env=env)


@pytest.fixture(scope="module")
def sqlite_file_db(tmp_path_factory):
    """An on-disk SQLite database, migrated (the workers create their licences in it)."""
    return sqlite_file_migrate(tmp_path_factory.mktemp("quota") / "quota.sqlite3")


def _sqlite_licence(env: dict) -> int:
    out = subprocess.run(_worker("--setup"), cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.strip().splitlines()[-1])


def _sqlite_state(env: dict, licence_id: int) -> tuple[int, int, int]:
    import sqlite3

    with sqlite3.connect(env["SQLITE_PATH"]) as db:
        used = db.execute(
            "SELECT used FROM licensing_licencemonth WHERE licence_id = ?", (licence_id,)
        ).fetchone()
        charges = db.execute(
            "SELECT COUNT(*) FROM licensing_licencecharge WHERE licence_id = ?", (licence_id,)
        ).fetchone()[0]
        usage = db.execute(
            "SELECT posts FROM licensing_licenceusageday WHERE licence_id = ?", (licence_id,)
        ).fetchone()
    return (used[0] if used else 0), charges, (usage[0] if usage else 0)


# --- Database ledger ------------------------------------------------------------------------


@transactional
def test_database_quota_threads_postgres(require_postgres):
    """Ensures that 32 threads on one licence on PostgreSQL deliver exactly the quota."""
    licence = make_licensee().licence
    outcome = _threads(lambda: QuotaAdapter(DatabaseQuotaLedger()), licence.pk)
    report("database/postgresql threads", clients=THREADS, processes=1, outcome=outcome)
    assert_exact(outcome)
    assert LicenceMonth.objects.get(licence=licence).used == QUOTA
    assert LicenceCharge.objects.filter(licence=licence, day=DAY).count() == QUOTA


@transactional
def test_database_quota_processes_postgres(require_postgres):
    """Ensures that 4 processes x 8 threads on one licence on PostgreSQL deliver exactly it."""
    licence = make_licensee().licence
    env = worker_env(DATABASE_URL=postgres_url())
    outcome = run_processes(ledger="database", env=env, licence_id=licence.pk)
    report("database/postgresql processes", clients=32, processes=PROCESSES, outcome=outcome)
    assert_exact(outcome)
    assert LicenceMonth.objects.get(licence=licence).used == QUOTA


def test_database_quota_processes_sqlite(sqlite_file_db):
    """Ensures that 4 processes x 8 threads on one licence on SQLite deliver exactly it."""
    licence_id = _sqlite_licence(sqlite_file_db)
    outcome = run_processes(ledger="database", env=sqlite_file_db, licence_id=licence_id)
    report("database/sqlite processes", clients=32, processes=PROCESSES, outcome=outcome)
    assert_exact(outcome)
    assert _sqlite_state(sqlite_file_db, licence_id) == (QUOTA, QUOTA, QUOTA)


# --- Redis ledger ---------------------------------------------------------------------------


def test_redis_quota_threads_private_server(private_redis):  # noqa: F811
    """Ensures that 32 threads on one licence on a Redis of our own deliver exactly the quota
    (the script alone: usage rows off)."""
    ledger = RedisQuotaLedger(
        client=private_redis.client(), key_prefix=f"t-{uuid.uuid4().hex}", usage_rows=False
    )
    outcome = _threads(lambda: QuotaAdapter(ledger), 4242)
    report("redis (private server) threads", clients=THREADS, processes=1, outcome=outcome)
    assert_exact(outcome)
    assert ledger.peek(licence_id=4242, day=DAY) == QUOTA


def test_redis_quota_processes(require_redis, sqlite_file_db):
    """Ensures that 4 processes x 8 threads on one licence on the configured Redis deliver
    exactly the quota, usage rows included."""
    licence_id = _sqlite_licence(sqlite_file_db)
    prefix = f"test-{uuid.uuid4().hex}"
    env = {**sqlite_file_db, "REDIS_URL": settings.REDIS_URL}
    outcome = run_processes(ledger="redis", env=env, licence_id=licence_id, key_prefix=prefix)
    report("redis processes", clients=32, processes=PROCESSES, outcome=outcome)
    assert_exact(outcome)
    ledger = RedisQuotaLedger(key_prefix=prefix)
    assert ledger.peek(licence_id=licence_id, day=DAY) == QUOTA
    assert _sqlite_state(sqlite_file_db, licence_id)[2] == QUOTA  # the chart's rows agree
    ledger.client.delete(*ledger.keys(licence_id, DAY))

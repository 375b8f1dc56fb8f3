"""Exactness under concurrency: many callers for one reader never read past the budget.

Each caller pages through its own distinct post ids until the ledger cuts it off, so together
they ask for far more than the budget. Both ledgers, threads in this process and several OS
processes (each with threads), on the databases and Redis CI provides. Figures are printed:
run with ``-s`` to see them.
"""

import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from access.ledgers import DatabaseLedger, RedisLedger
from access.models import ReadDay, ReadReceipt

from .concurrency import assert_exact as assert_exact_limit
from .concurrency import (
    outcome_report,
    processes_run,
    run_threads,
    sqlite_file_migrate,
    worker_env,
)

REPO = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 26)
BUDGET = 200
THREADS = 32
PROCESSES = 4
THREADS_PER_PROCESS = 8
IDS_PER_CALLER = 50  # 32 callers x 50 ids = 1,600 distinct ids asked for, 8x the budget
PAGE_SIZE = 5

transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def report(label: str, *, clients: int, processes: int, outcome: dict) -> None:
    outcome_report("concurrency", label, clients=clients, processes=processes, limit=BUDGET,
                   outcome=outcome)  # fmt: skip


def assert_exact(outcome: dict) -> None:
    assert_exact_limit(outcome, limit=BUDGET)


def run_processes(
    *,
    ledger: str,
    env: dict,
    principal: str,
    key_prefix: str = "",
    processes: int = PROCESSES,
    threads: int = THREADS_PER_PROCESS,
) -> dict:
    """Start ``processes`` workers of ``threads`` callers, release them together, merge."""
    commands = [
        [
            sys.executable,
            "-m",
            "tests.access.concurrency",
            "--ledger",
            ledger,
            "--principal",
            principal,
            "--day",
            DAY.isoformat(),
            "--budget",
            str(BUDGET),
            "--threads",
            str(threads),
            "--first-id",
            str(1 + index * threads * IDS_PER_CALLER),
            "--ids-per-thread",
            str(IDS_PER_CALLER),
            "--page-size",
            str(PAGE_SIZE),
            "--key-prefix",
            key_prefix,
        ]  # fmt: skip
        for index in range(processes)
    ]
    return processes_run(commands, env=env)


def postgres_url() -> str:
    """A DATABASE_URL for the test database pytest-django created."""
    info = connection.settings_dict
    auth = info["USER"] + (f":{info['PASSWORD']}" if info.get("PASSWORD") else "")
    return f"postgres://{auth}@{info['HOST'] or '127.0.0.1'}:{info['PORT'] or 5432}/{info['NAME']}"


# --- Database ledger ------------------------------------------------------------------------


@transactional
def test_database_ledger_threads_postgres(require_postgres):
    """Ensures that 32 threads for one reader on PostgreSQL deliver exactly B posts."""
    principal = f"user:{uuid.uuid4().hex[:8]}"
    outcome = run_threads(
        ledger_factory=DatabaseLedger,
        principal=principal,
        day=DAY,
        budget=BUDGET,
        threads=THREADS,
        first_id=1,
        ids_per_thread=IDS_PER_CALLER,
        page_size=PAGE_SIZE,
    )
    report("database/postgresql threads", clients=THREADS, processes=1, outcome=outcome)
    assert_exact(outcome)
    assert ReadDay.objects.get(principal=principal, day=DAY).used == BUDGET
    assert ReadReceipt.objects.filter(principal=principal, day=DAY).count() == BUDGET


@transactional
def test_database_ledger_processes_postgres(require_postgres):
    """Ensures that 4 processes x 8 threads for one reader on PostgreSQL deliver exactly B."""
    principal = f"user:{uuid.uuid4().hex[:8]}"
    env = worker_env(DATABASE_URL=postgres_url())
    outcome = run_processes(ledger="database", env=env, principal=principal)
    clients = PROCESSES * THREADS_PER_PROCESS
    report("database/postgresql processes", clients=clients, processes=PROCESSES, outcome=outcome)
    assert_exact(outcome)
    assert ReadDay.objects.get(principal=principal, day=DAY).used == BUDGET
    assert ReadReceipt.objects.filter(principal=principal, day=DAY).count() == BUDGET


@pytest.fixture(scope="module")
def sqlite_file_db(tmp_path_factory):
    """An on-disk SQLite database, migrated, with the project's WAL/IMMEDIATE settings (the
    test database is in memory, which other processes cannot share)."""
    return sqlite_file_migrate(tmp_path_factory.mktemp("ledger") / "ledger.sqlite3")


def sqlite_state(env: dict, principal: str) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(env["SQLITE_PATH"]) as db:
        used = db.execute(
            "SELECT used FROM access_readday WHERE principal = ?", (principal,)
        ).fetchone()[0]
        receipts = db.execute(
            "SELECT COUNT(*) FROM access_readreceipt WHERE principal = ?", (principal,)
        ).fetchone()[0]
    return used, receipts


def test_database_ledger_threads_sqlite(sqlite_file_db):
    """Ensures that 32 threads for one reader on an on-disk SQLite deliver exactly B posts."""
    principal = f"user:{uuid.uuid4().hex[:8]}"
    # One worker process running all 32 threads against the file database.
    outcome = run_processes(
        ledger="database", env=sqlite_file_db, principal=principal, processes=1, threads=THREADS
    )
    report("database/sqlite threads", clients=THREADS, processes=1, outcome=outcome)
    assert_exact(outcome)
    assert sqlite_state(sqlite_file_db, principal) == (BUDGET, BUDGET)


def test_database_ledger_processes_sqlite(sqlite_file_db):
    """Ensures that 4 processes x 8 threads for one reader on SQLite deliver exactly B posts."""
    principal = f"user:{uuid.uuid4().hex[:8]}"
    outcome = run_processes(ledger="database", env=sqlite_file_db, principal=principal)
    clients = PROCESSES * THREADS_PER_PROCESS
    report("database/sqlite processes", clients=clients, processes=PROCESSES, outcome=outcome)
    assert_exact(outcome)
    assert sqlite_state(sqlite_file_db, principal) == (BUDGET, BUDGET)


# --- Redis ledger ---------------------------------------------------------------------------


def _redis_threads(ledger: RedisLedger, label: str) -> None:
    principal = f"user:{uuid.uuid4().hex[:8]}"
    outcome = run_threads(
        ledger_factory=lambda: ledger,
        principal=principal,
        day=DAY,
        budget=BUDGET,
        threads=THREADS,
        first_id=1,
        ids_per_thread=IDS_PER_CALLER,
        page_size=PAGE_SIZE,
    )
    report(label, clients=THREADS, processes=1, outcome=outcome)
    assert_exact(outcome)
    assert ledger.peek(principal=principal, day=DAY) == BUDGET


def test_redis_ledger_threads(require_redis):
    """Ensures that 32 threads for one reader on the configured Redis deliver exactly B."""
    _redis_threads(RedisLedger(key_prefix=f"test-{uuid.uuid4().hex}"), "redis threads")


def test_redis_ledger_threads_private_server(private_redis):
    """Ensures the same on a Redis server of our own (so it runs without REDIS_URL too)."""
    ledger = RedisLedger(client=private_redis.client(), key_prefix=f"t-{uuid.uuid4().hex}")
    _redis_threads(ledger, "redis (private server) threads")


def test_redis_ledger_processes(require_redis):
    """Ensures that 4 processes x 8 threads for one reader on Redis deliver exactly B."""
    principal = f"user:{uuid.uuid4().hex[:8]}"
    prefix = f"test-{uuid.uuid4().hex}"
    env = worker_env(REDIS_URL=settings.REDIS_URL)
    outcome = run_processes(ledger="redis", env=env, principal=principal, key_prefix=prefix)
    clients = PROCESSES * THREADS_PER_PROCESS
    report("redis processes", clients=clients, processes=PROCESSES, outcome=outcome)
    assert_exact(outcome)
    assert RedisLedger(key_prefix=prefix).peek(principal=principal, day=DAY) == BUDGET

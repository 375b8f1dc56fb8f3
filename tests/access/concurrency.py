"""Concurrency harness for the ledgers: many callers, one reader (or licence), one limit.

Shared by the read-budget tests (tests/access/test_concurrency.py) and the licence-quota tests
(tests/licensing/test_quota_concurrency.py, whose worker is tests/licensing/quota_worker.py):
threads in the test process (``run_threads``), worker processes released together
(``processes_run`` / ``worker_serve``), and the exactness check (``assert_exact``). The read
ledgers' worker is this module:

    python -m tests.access.concurrency --ledger database --principal user:1 --budget 200 \
        --threads 8 --first-id 1 --ids-per-thread 50 --page-size 5

A worker prints "ready", waits for a line on stdin (so that every process starts together),
runs, and prints one JSON line: {"delivered": [...], "charged": [...], "errors": [...]}.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

from tests.sqlite_files import sqlite_file_migrated

REPO = Path(__file__).resolve().parents[2]


def run_threads(
    *,
    ledger_factory,
    principal: str,
    day: date,
    budget: int,
    threads: int,
    first_id: int,
    ids_per_thread: int,
    page_size: int,
) -> dict:
    """Run ``threads`` callers, each paging through its own distinct post ids until refused."""
    barrier = threading.Barrier(threads)
    lock = threading.Lock()
    delivered: list[int] = []
    charged: list[int] = []
    errors: list[str] = []

    def caller(index: int) -> None:
        from django.db import connections

        mine_delivered: list[int] = []
        mine_charged: list[int] = []
        try:
            ledger = ledger_factory()
            start = first_id + index * ids_per_thread
            ids = list(range(start, start + ids_per_thread))
            barrier.wait(timeout=60)
            for offset in range(0, len(ids), page_size):
                page = ids[offset : offset + page_size]
                result = ledger.charge(principal=principal, day=day, limit=budget, post_ids=page)
                mine_delivered.extend(result.delivered_ids)
                mine_charged.extend(result.charged_ids)
                if len(result.delivered_ids) < len(page):
                    break  # refused or cut: the budget is spent
        except Exception as exc:  # reported to the test, which fails on any
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()
            with lock:
                delivered.extend(mine_delivered)
                charged.extend(mine_charged)

    workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"delivered": delivered, "charged": charged, "errors": errors}


def assert_exact(outcome: dict, *, limit: int) -> None:
    """Exactly ``limit`` distinct posts went out, each charged once, with no error."""
    assert outcome["errors"] == []
    assert len(outcome["delivered"]) == limit  # never more, and none lost either
    assert len(set(outcome["delivered"])) == limit
    assert sorted(outcome["charged"]) == sorted(outcome["delivered"])


def outcome_report(tag: str, label: str, *, clients: int, processes: int, limit: int, outcome):
    """One line for ``pytest -s``: the figures docs/read-budgets.md and licensing.md quote."""
    delivered = outcome["delivered"]
    print(
        f"\n[{tag}] {label}: clients={clients} processes={processes} limit={limit} "
        f"delivered={len(delivered)} distinct={len(set(delivered))} errors={len(outcome['errors'])}"
    )


def worker_env(**overrides) -> dict:
    """The test process's environment with ``overrides`` (None removes a variable)."""
    env = dict(os.environ)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def sqlite_file_migrate(path: Path) -> dict:
    """A migrated on-disk SQLite database at ``path`` (the test database is in memory, which
    other processes cannot share; ``tests/sqlite_files.py``); returns the environment that
    points workers at it."""
    sqlite_file_migrated(path)
    return worker_env(DATABASE_URL=None, SQLITE_PATH=str(path))


def processes_run(commands: list[list[str]], *, env: dict) -> dict:
    """Start one worker per command, release them together once all are ready, merge what
    they delivered."""
    procs = [
        subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for command in commands
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:  # every worker is set up; release them at once
            proc.stdin.write("go\n")
            proc.stdin.flush()
        merged = {"delivered": [], "charged": [], "errors": []}
        for proc in procs:
            out, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0
            result = json.loads(out.strip().splitlines()[-1])
            for key in merged:
                merged[key].extend(result[key])
        return merged
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def worker_serve(run: Callable[[], dict]) -> None:
    """A worker's side of ``processes_run``: say ready, wait for the go, run, print JSON."""
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(run()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledger", choices=["database", "redis"], required=True)
    parser.add_argument("--principal", required=True)
    parser.add_argument("--day", required=True)
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--first-id", type=int, required=True)
    parser.add_argument("--ids-per-thread", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=5)
    parser.add_argument("--key-prefix", default="")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "microblog.settings")
    import django

    django.setup()
    from access.ledgers import DatabaseLedger, RedisLedger

    if args.ledger == "database":

        def factory():
            return DatabaseLedger()
    else:
        shared = RedisLedger(key_prefix=args.key_prefix)

        def factory():
            return shared

    worker_serve(
        lambda: run_threads(
            ledger_factory=factory,
            principal=args.principal,
            day=date.fromisoformat(args.day),
            budget=args.budget,
            threads=args.threads,
            first_id=args.first_id,
            ids_per_thread=args.ids_per_thread,
            page_size=args.page_size,
        )
    )


if __name__ == "__main__":
    main()

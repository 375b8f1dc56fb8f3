"""Concurrency harness for the read ledgers: many callers, one reader, one budget.

Imported by the tests (threads in the test process) and run as a worker process by them:

    python -m tests.access.concurrency --ledger database --principal user:1 --budget 200 \
        --threads 8 --first-id 1 --ids-per-thread 50 --page-size 5

It prints "ready", waits for a line on stdin (so that every process starts together), runs,
and prints one JSON line: {"delivered": [...], "charged": [...], "errors": [...]}.
"""

import argparse
import json
import os
import sys
import threading
from datetime import date


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

    print("ready", flush=True)
    sys.stdin.readline()
    outcome = run_threads(
        ledger_factory=factory,
        principal=args.principal,
        day=date.fromisoformat(args.day),
        budget=args.budget,
        threads=args.threads,
        first_id=args.first_id,
        ids_per_thread=args.ids_per_thread,
        page_size=args.page_size,
    )
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()

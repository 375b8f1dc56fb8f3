"""Worker process for the quota concurrency tests: many callers, one licence, one quota.

    python -m tests.licensing.quota_worker --ledger database --licence 7 --quota 200 \
        --threads 8 --first-id 1 --ids-per-thread 50 --page-size 5
    python -m tests.licensing.quota_worker --setup     # creates a licence, prints its id

The shared harness (tests/access/concurrency.py) runs the threads and the ready/go/JSON
protocol; this worker only adapts the quota ledger to it.
"""

import argparse
import os
from datetime import date


class QuotaAdapter:
    """The read-ledger shape the shared thread runner calls, on a licence quota ledger."""

    def __init__(self, ledger):
        self.ledger = ledger

    def charge(self, *, principal: str, day: date, limit: int, post_ids: list[int]):
        return self.ledger.charge(
            licence_id=int(principal), day=day, quota=limit, post_ids=post_ids
        )


def licence_create() -> int:
    """A user, the basic plan and an active licence, in whatever database is configured."""
    import uuid

    from accounts.models import User
    from licensing.models import DataPlan, Licence

    name = f"q{uuid.uuid4().hex[:10]}"
    user = User.objects.create_user(username=name, email=f"{name}@example.com")
    licence = Licence.objects.create(
        user=user,
        plan=DataPlan.objects.get(slug="basic"),
        provider="dev",
        status="active",
        checkout_ref=uuid.uuid4().hex,
    )
    return licence.pk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--ledger", choices=["database", "redis"], default="database")
    parser.add_argument("--licence", type=int, default=0)
    parser.add_argument("--day", default="2026-11-26")
    parser.add_argument("--quota", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--first-id", type=int, default=1)
    parser.add_argument("--ids-per-thread", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=5)
    parser.add_argument("--key-prefix", default="")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "microblog.settings")
    import django

    django.setup()
    if args.setup:
        print(licence_create(), flush=True)
        return
    from licensing.quota import DatabaseQuotaLedger, RedisQuotaLedger
    from tests.access.concurrency import run_threads, worker_serve

    if args.ledger == "database":

        def factory():
            return QuotaAdapter(DatabaseQuotaLedger())
    else:
        shared = QuotaAdapter(RedisQuotaLedger(key_prefix=args.key_prefix))

        def factory():
            return shared

    worker_serve(
        lambda: run_threads(
            ledger_factory=factory,
            principal=str(args.licence),
            day=date.fromisoformat(args.day),
            budget=args.quota,
            threads=args.threads,
            first_id=args.first_id,
            ids_per_thread=args.ids_per_thread,
            page_size=args.page_size,
        )
    )


if __name__ == "__main__":
    main()

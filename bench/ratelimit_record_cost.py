"""What one request-rate 429's access-log record costs the web process, written to the
database (an INSERT, the embedded default and the Redis-down fallback) or to the Redis
access-log stream (one XADD, drained later), side by side in one run.

    DATABASE_URL=postgres://…/microblog_X REDIS_URL=redis://127.0.0.1:6379/N \\
        python -m bench.ratelimit_record_cost [calls per round, default 1000]

The database must be migrated. Calls ``access.ratelimit_records.rate_limited_record`` as the
API and the paging middleware do, in interleaved rounds, and prints the median CPU time of
this process and the median wall time per record (the wall time includes the database's or
Redis's own work; the CPU time does not). The records written stay in that database (the
access log is append-only): use a scratch one. Absolute figures are this machine's.
"""

import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5


def main() -> int:
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("PAYMENTS_DEV_ALLOWED", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "microblog.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection
    from django.test import RequestFactory

    from access import ratelimit_records
    from access.ledgers import database_ledger, redis_ledger

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        print("needs DATABASE_URL (PostgreSQL) and REDIS_URL", file=sys.stderr)
        return 2
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    factory = RequestFactory()

    def request():
        made = factory.get(
            "/api/v1/timelines/public",
            {"max_id": "123"},
            HTTP_USER_AGENT="bench-ratelimit-record",
            REMOTE_ADDR="198.51.100.7",
        )
        made.user = AnonymousUser()
        return made

    ways = {"database INSERT": database_ledger(), "Redis stream XADD": redis_ledger()}
    cpu: dict[str, list[float]] = {name: [] for name in ways}
    wall: dict[str, list[float]] = {name: [] for name in ways}
    for round_ in range(ROUNDS + 1):  # the first round warms up and is not counted
        for name, ledger in ways.items():
            ratelimit_records.ledger_get = lambda ledger=ledger: ledger
            requests = [request() for _ in range(calls)]
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            for made in requests:
                ratelimit_records.rate_limited_record(request=made)
            if round_:
                cpu[name].append((time.process_time() - cpu_start) / calls * 1000)
                wall[name].append((time.perf_counter() - wall_start) / calls * 1000)
    print(f"{calls} request-rate 429 records per round, {ROUNDS} rounds, median per record:")
    for name in ways:
        print(
            f"  {name:18} {statistics.median(cpu[name]):6.3f} ms CPU (web process)"
            f"  {statistics.median(wall[name]):6.3f} ms wall"
        )
    with open("/proc/loadavg") as load:
        print(f"  load average during the run: {load.read().split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the time of one controlled home-timeline request goes, in-process.

    DATABASE_URL=postgres://…/microblog_scale python -m bench.profile_request [--profile]

Runs ``GET /api/v1/timelines/home`` (20 posts, Bearer token, controls on, Redis ledger) and
``/healthz`` through Django's full handler and middleware in this process, interleaved, and
prints the milliseconds per request, the share spent waiting on SQL and on Redis, the SQL
queries per request, and with ``--profile`` the functions that take the most time (cProfile).
Absolute figures are this machine's; compare the lines of one run.
"""

import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _Timer:
    def __init__(self):
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


@contextmanager
def _redis_timer(timer: _Timer):
    import redis

    original = redis.Redis.execute_command

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            timer.seconds += time.perf_counter() - started
            timer.calls += 1

    redis.Redis.execute_command = timed
    try:
        yield
    finally:
        redis.Redis.execute_command = original


def main() -> int:
    from bench.__main__ import _configure_environment

    _configure_environment()
    os.environ.setdefault("ACCESS_ENFORCEMENT", "enforce")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from bench.scenarios import _reader

    _, token, _ = _reader("bench_f1000", 1000)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    home = "/api/v1/timelines/home"
    paths = {
        "trivial view (/healthz)": "/healthz",
        "token auth + own account (verify_credentials)": "/api/v1/accounts/verify_credentials",
        "home timeline, 20 statuses, controls on": home,
    }
    for _ in range(20):  # warm caches, connections and the Lua script
        for path in paths.values():
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")

    rounds, calls = 5, 40
    per_request: dict[str, list[float]] = {path: [] for path in paths.values()}
    waits = {path: (_Timer(), _Timer()) for path in paths.values()}
    for index in range(rounds):
        shift = index % len(paths)
        for path in [*paths.values()][shift:] + [*paths.values()][:shift]:
            sql, cache = waits[path]
            with connection.execute_wrapper(sql), _redis_timer(cache):
                started = time.perf_counter()
                for _ in range(calls):
                    client.get(path)
                per_request[path].append((time.perf_counter() - started) / calls)
    n = rounds * calls
    trivial_ms = statistics.median(per_request["/healthz"]) * 1000
    print(f"in-process, median of {rounds} interleaved rounds × {calls} requests\n")
    print(f"{'request':<48} {'ms':>6} {'vs trivial':>10} {'SQL':>4} {'SQL ms':>7} "
          f"{'Redis':>5} {'Redis ms':>8} {'Python ms':>9}")  # fmt: skip
    for label, path in paths.items():
        ms = statistics.median(per_request[path]) * 1000
        sql, cache = waits[path]
        sql_ms, cache_ms = sql.seconds / n * 1000, cache.seconds / n * 1000
        print(
            f"{label:<48} {ms:>6.2f} {trivial_ms / ms:>10.3f} {sql.calls / n:>4.1f} "
            f"{sql_ms:>7.2f} {cache.calls / n:>5.1f} {cache_ms:>8.2f} "
            f"{ms - sql_ms - cache_ms:>9.2f}"
        )
    if "--profile" in sys.argv:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(100):
            client.get(home)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(
            os.environ.get("PROFILE_SORT", "tottime")
        )
        stats.print_stats(25)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

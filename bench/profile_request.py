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
    home, trivial = "/api/v1/timelines/home", "/healthz"
    for _ in range(20):  # warm caches, connections and the Lua script
        response = client.get(home)
        if response.status_code != 200:
            raise SystemExit(f"{home} answered {response.status_code}: {response.content[:200]}")
        client.get(trivial)

    rounds, calls = 5, 40
    per_request = {home: [], trivial: []}
    sql, cache = _Timer(), _Timer()
    with connection.execute_wrapper(sql), _redis_timer(cache):
        for index in range(rounds):
            order = [home, trivial] if index % 2 == 0 else [trivial, home]
            for path in order:
                sql_before, cache_before = (sql.seconds, sql.calls), (cache.seconds, cache.calls)
                started = time.perf_counter()
                for _ in range(calls):
                    client.get(path)
                per_request[path].append((time.perf_counter() - started) / calls)
                if path == trivial:  # count only the home requests' waits
                    sql.seconds, sql.calls = sql_before
                    cache.seconds, cache.calls = cache_before
    home_ms = statistics.median(per_request[home]) * 1000
    trivial_ms = statistics.median(per_request[trivial]) * 1000
    n = rounds * calls
    print(f"GET {home}: {home_ms:.2f} ms per request (median of {rounds} rounds × {calls})")
    print(f"GET {trivial}: {trivial_ms:.2f} ms per request")
    print(f"ratio trivial / home (in-process ceiling): {trivial_ms / home_ms:.3f}")
    print(
        f"home: SQL {sql.calls / n:.1f} queries, {sql.seconds / n * 1000:.2f} ms waiting; "
        f"Redis {cache.calls / n:.1f} commands, {cache.seconds / n * 1000:.2f} ms waiting; "
        f"Python and the rest {home_ms - (sql.seconds + cache.seconds) / n * 1000:.2f} ms"
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

"""Where the time of one controlled home-timeline request goes, in-process.

    DATABASE_URL=postgres://…/microblog_scale python -m bench.profile_request [--profile]

Runs ``GET /api/v1/timelines/home`` (20 posts, Bearer token, controls on, Redis ledger), the
web home page (session), ``verify_credentials``, ``/healthz``, and the database-served
timelines (the home page 500 pages deep, public, account statuses) through Django's full handler
and middleware in this process, interleaved, once with the render and token caches off
(``RENDER_CACHE=0``: before) and once warm (after), and prints side by side the milliseconds
per request, the share spent waiting on SQL and on Redis (a pipeline counted as one round
trip), the SQL queries per request, this process's CPU per request (user + system: less
moved by other tenants than the wall clock), and
with ``--profile`` the functions that take the most time (cProfile) both ways.
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
CONTROLS_OFF_HOME = "/api/v1/timelines/home?limit=20"


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
    """Time every Redis round trip: a command, or a whole pipeline (one round trip however
    many commands it carries; its queued commands are not round trips of their own)."""
    import redis
    from redis.client import Pipeline

    original = redis.Redis.execute_command
    original_pipeline = Pipeline.execute

    def timing(call):
        def timed(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return call(self, *args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - started
                timer.calls += 1

        return timed

    redis.Redis.execute_command = timing(original)
    Pipeline.execute = timing(original_pipeline)
    try:
        yield
    finally:
        redis.Redis.execute_command = original
        Pipeline.execute = original_pipeline


def _measure(client, paths: dict[str, str], rounds: int, calls: int):
    """Median seconds per request of each path over interleaved rounds, and its SQL and
    Redis waits (total seconds and calls over all requests)."""
    from django.conf import settings
    from django.db import connection

    per_request: dict[str, list[float]] = {path: [] for path in paths.values()}
    cpu: dict[str, list[float]] = {path: [] for path in paths.values()}
    waits = {path: (_Timer(), _Timer()) for path in paths.values()}
    for index in range(rounds):
        shift = index % len(paths)
        for path in [*paths.values()][shift:] + [*paths.values()][:shift]:
            sql, cache = waits[path]
            settings.ACCESS_ENFORCEMENT = "off" if path == CONTROLS_OFF_HOME else "enforce"
            with connection.execute_wrapper(sql), _redis_timer(cache):
                started, cpu_started = time.perf_counter(), time.process_time()
                for _ in range(calls):
                    client(path).get(path)
                per_request[path].append((time.perf_counter() - started) / calls)
                cpu[path].append((time.process_time() - cpu_started) / calls)
    medians = {path: statistics.median(values) for path, values in per_request.items()}
    cpu_medians = {path: statistics.median(values) for path, values in cpu.items()}
    return medians, waits, cpu_medians


def main() -> int:
    from bench.__main__ import _configure_environment

    _configure_environment()
    os.environ.setdefault("ACCESS_ENFORCEMENT", "enforce")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from bench.scenarios import _home_max_id_at_depth, _reader, _thread_and_account

    reader, token, session = _reader("bench_f1000", 1000)
    deep_max_id = _home_max_id_at_depth(reader, 500 * 20)
    _, account_id = _thread_and_account()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    web = Client(HTTP_HOST="127.0.0.1")
    web.cookies["sessionid"] = session
    home = "/api/v1/timelines/home"
    paths = {
        "trivial view (/healthz)": "/healthz",
        "token auth + own account (verify_credentials)": "/api/v1/accounts/verify_credentials",
        "home timeline API, 20 statuses, controls on": home,
        # The same page (limit=20 is the default) with the gate off: the controls' own cost.
        "home timeline API, 20 statuses, controls off": CONTROLS_OFF_HOME,
        "home web page, 20 posts, controls on": "/",
        "home API, 500 pages deep (max_id)": f"{home}?max_id={deep_max_id}",
        "public timeline API": "/api/v1/timelines/public",
        "account statuses API": f"/api/v1/accounts/{account_id}/statuses",
    }

    def client(path):
        return web if path == "/" else api

    rounds, calls = 5, 40
    n = rounds * calls
    results = {}
    # "before": the render and token caches off (RENDER_CACHE=0), "after": warm.
    for label, enabled in (("cache off", False), ("warm cache", True)):
        settings.RENDER_CACHE = enabled
        for _ in range(20):  # warm connections, the Lua script and (when on) the caches
            for path in paths.values():
                response = client(path).get(path)
                if response.status_code != 200:
                    raise SystemExit(f"{path} answered {response.status_code}")
        results[label] = _measure(client, paths, rounds, calls)

    print(f"in-process, median of {rounds} interleaved rounds × {calls} requests")
    print("before = render and token caches off (RENDER_CACHE=0), after = warm caches\n")
    header = f"{'request':<46} {'':>6} {'ms':>6} {'vs trivial':>10} {'SQL':>4} {'SQL ms':>7} "
    header += f"{'Redis':>5} {'Redis ms':>8} {'Python ms':>9} {'CPU ms':>6}"
    print(header)
    for label, path in paths.items():
        for mode, tag in (("cache off", "before"), ("warm cache", "after")):
            medians, waits, cpu = results[mode]
            ms = medians[path] * 1000
            trivial_ms = medians["/healthz"] * 1000
            sql, cache = waits[path]
            sql_ms, cache_ms = sql.seconds / n * 1000, cache.seconds / n * 1000
            name = label if tag == "before" else ""
            print(
                f"{name:<46} {tag:>6} {ms:>6.2f} {trivial_ms / ms:>10.3f} {sql.calls / n:>4.1f} "
                f"{sql_ms:>7.2f} {cache.calls / n:>5.1f} {cache_ms:>8.2f} "
                f"{ms - sql_ms - cache_ms:>9.2f} {cpu[path] * 1000:>6.2f}"
            )
        before = results["cache off"][0][path]
        after = results["warm cache"][0][path]
        print(f"{'':<46} {'speed':>6} {before / after:>5.2f}×")
    for mode in ("cache off", "warm cache"):
        cpu = results[mode][2]
        print(
            f"home API controls on / off, {mode}, by this process's CPU: "
            f"{cpu[CONTROLS_OFF_HOME] / cpu[home]:.3f}"
        )
    if "--profile" in sys.argv:
        settings.ACCESS_ENFORCEMENT = "enforce"
        for mode, enabled in (("cache off", False), ("warm cache", True)):
            settings.RENDER_CACHE = enabled
            for target in (home, "/"):
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(100):
                    client(target).get(target)
                profiler.disable()
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out).sort_stats(
                    os.environ.get("PROFILE_SORT", "tottime")
                )
                stats.print_stats(int(os.environ.get("PROFILE_LINES", 15)))
                print(f"--- {target}, {mode}, 100 requests ---")
                print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

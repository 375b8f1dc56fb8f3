"""`make bench`: measure the data-access controls and the timelines side by side, as ratios.

Runs against PostgreSQL + Redis (DATABASE_URL / REDIS_URL; defaults: the local servers, database
``microblog_bench``, Redis db 9), seeds the scale data set once, starts gunicorn servers with
the controls on and off, and drives them with wrk from a separate process on 127.0.0.1 in
interleaved rounds. Prints a table of ratios with their goals and writes bench/results/*.json.

    make bench                       # full size (10k users, 1M posts)
    BENCH_POSTS=200000 make bench    # quicker
"""

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import database_ensure, environment

ROOT = Path(__file__).resolve().parent.parent


def _configure_environment() -> dict[str, str]:
    """make bench's settings: database ``microblog_bench``, Redis db 9, tasks run eagerly."""
    return environment(database="microblog_bench", redis_db=9, CELERY_TASK_ALWAYS_EAGER="1")


def main() -> int:
    env = _configure_environment()
    database_ensure(env["DATABASE_URL"])
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from bench import scenarios

    started = time.monotonic()
    report = scenarios.run_all(
        env=env,
        users=int(os.environ.get("BENCH_USERS", 10_000)),
        posts=int(os.environ.get("BENCH_POSTS", 1_000_000)),
        rounds=int(os.environ.get("BENCH_ROUNDS", 3)),
        seconds=int(os.environ.get("BENCH_SECONDS", 5)),
    )
    report["elapsed_seconds"] = round(time.monotonic() - started, 1)
    report["when"] = datetime.now(tz=UTC).isoformat(timespec="seconds")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"bench-{datetime.now(tz=UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    (out_dir / "latest.json").write_text(json.dumps(report, indent=2))
    print(scenarios.format_table(report))
    print(f"\nwritten: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

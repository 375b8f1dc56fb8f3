"""Which SQL statements a database-served page runs, what each costs PostgreSQL, and with
which plan — the figures ``pg_stat_statements`` would give, without configuring the server.

    DATABASE_URL=postgres://…/microblog_bench python -m bench.statement_plans [--plans]

Puts the pages of ``make bench`` that PostgreSQL serves (the home page 500 pages deep, the
first home page of the readers following 1,000 and 50, public, a thread, account statuses)
through Django's handler in this process, ``WARM`` times each so every prepared statement
has passed the five custom plans after which PostgreSQL may keep a generic one, then
``CALLS`` more times with ``auto_explain`` loaded on this session only (``LOAD`` needs a
superuser; nothing changes for other sessions): each statement's plan and execution time
come back as notices. Prints, per page and statement, the calls per request, the median
execution ms (PostgreSQL's own, with ``log_analyze``'s timing overhead), shared buffers
hit per call, and for a prepared one how many of its executions were planned generic vs
custom (``pg_prepared_statements``); ``--plans`` adds each statement's last plan.
"""

import os
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM, CALLS = 12, 30
_NOTICE = re.compile(r"duration: ([\d.]+) ms\s+plan:\s*\nQuery Text: (.*?)\n(.*)", re.S)


def _statement_key(text: str) -> str:
    """A statement's name: a prepared one's (``EXECUTE q_…``), else its SQL cut short."""
    match = re.match(r"\s*(?:EXECUTE|PREPARE) (q_[0-9a-f]+)", text)
    if match:
        return match[1]
    return re.sub(r"\s+", " ", text)[:90]


def main() -> int:
    from bench.__main__ import _configure_environment

    _configure_environment()
    os.environ.setdefault("ACCESS_ENFORCEMENT", "enforce")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from bench.scenarios import _home_max_id_at_depth, _reader, _thread_and_account

    # One session for the whole run: its prepared statements and auto_explain stay loaded.
    connection.settings_dict["CONN_MAX_AGE"] = None
    f1000, token1000, _ = _reader("bench_f1000", 1000)
    _, token50, _ = _reader("bench_f50", 50)
    deep_max_id = _home_max_id_at_depth(f1000, 500 * 20)
    thread_id, account_id = _thread_and_account()
    api1000 = Client(HTTP_AUTHORIZATION=f"Bearer {token1000}", HTTP_HOST="127.0.0.1")
    api50 = Client(HTTP_AUTHORIZATION=f"Bearer {token50}", HTTP_HOST="127.0.0.1")
    home = "/api/v1/timelines/home"
    pages = {
        "home_deep": (api1000, f"{home}?max_id={deep_max_id}"),
        "home_enforce": (api1000, home),
        "home_f50": (api50, home),
        "public": (api1000, "/api/v1/timelines/public"),
        "thread": (api1000, f"/api/v1/statuses/{thread_id}/context"),
        "account": (api1000, f"/api/v1/accounts/{account_id}/statuses"),
    }
    for client, path in pages.values():
        for _ in range(WARM):
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")

    raw = connection.connection
    notices: list[str] = []
    raw.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary))
    for setting in (
        "LOAD 'auto_explain'",
        "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_analyze = on",
        "SET auto_explain.log_buffers = on",
        "SET auto_explain.log_timing = on",
        "SET auto_explain.log_level = notice",
        "SET client_min_messages = notice",
    ):
        raw.execute(setting)

    report: dict[str, dict[str, dict]] = {}
    last_plan: dict[str, str] = {}
    for page, (client, path) in pages.items():
        stats: dict[str, dict] = defaultdict(lambda: {"ms": [], "hit": []})
        for _ in range(CALLS):
            notices.clear()
            client.get(path)
            for message in notices:
                match = _NOTICE.match(message)
                if not match:
                    continue
                key = _statement_key(match[2])
                stats[key]["ms"].append(float(match[1]))
                top = match[3].split("\n", 3)
                hits = re.search(r"Buffers: shared hit=(\d+)", match[3])
                stats[key]["hit"].append(int(hits[1]) if hits else 0)
                stats[key]["first"] = top[0].strip()
                last_plan[key] = match[3]
        report[page] = stats
    for setting in ("SET auto_explain.log_min_duration = -1", "SET client_min_messages = warning"):
        raw.execute(setting)
    kinds = {
        name: (generic, custom)
        for name, generic, custom in raw.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements"
        ).fetchall()
    }

    print(f"in-process, after {WARM} warm-up requests per page; {CALLS} requests per page")
    print(f"{'page':<13} {'statement':<26} {'calls/req':>9} {'exec ms':>8} {'hits':>6} "
          f"{'generic/custom':>15}  top plan node")  # fmt: skip
    for page, stats in report.items():
        total = 0.0
        for key, figures in stats.items():
            per_request = len(figures["ms"]) / CALLS
            median_ms = statistics.median(figures["ms"])
            total += median_ms * per_request
            generic, custom = kinds.get(key, ("", ""))
            kind = f"{generic}/{custom}" if key in kinds else "unprepared"
            print(
                f"{page:<13} {key[:26]:<26} {per_request:>9.1f} {median_ms:>8.3f} "
                f"{statistics.median(figures['hit']):>6.0f} {kind:>15}  {figures['first'][:60]}"
            )
        print(f"{page:<13} {'(sum per request)':<26} {'':>9} {total:>8.3f}")
    if "--plans" in sys.argv:
        for key, plan in last_plan.items():
            print(f"\n--- {key} ---\n{plan}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

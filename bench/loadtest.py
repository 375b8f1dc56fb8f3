"""`make load`: a few minutes of simulated people against gunicorn + PostgreSQL + Redis + Celery.

Not a CI test. Uses PostgreSQL (``DATABASE_URL``; default database ``microblog_load``, created
if missing) and Redis (``REDIS_URL``; default db 10); migrates, seeds a moderate data set once
(``seed_scale``) and one load account per simulated user — each on a "load test" tier whose
daily read budget the run cannot exhaust, with a fresh read+write API token and web session.
Then starts gunicorn (2 workers x 4 threads, read budget enforced, request-rate limits off as
in ``make bench``) and a Celery worker with beat (so the access-log drain and the detectors run
as in production), runs ``locust -f bench/load.py --headless``, samples each gunicorn worker's
RSS every few seconds, and prints per kind of request: count, 5xx, refusals (429), p50/p95/p99.

Exits non-zero when any response was a 5xx, a refusal (every simulated reader is under
budget) or a connection error. Writes bench/results/load-<timestamp>.json (and locust's CSVs).

    make load                                    # 50 users, 3 minutes
    LOAD_USERS=20 LOAD_SECONDS=60 make load      # smaller
    LOAD_WAIT_MIN=0.5 LOAD_WAIT_MAX=2 make load  # less think time (default 1-5 s): saturates

Also: LOAD_SPAWN_RATE (10 users/s), LOAD_SEED_USERS / LOAD_SEED_POSTS (2,000 / 100,000), and
GUNICORN_CMD_ARGS (default ``--keep-alive 30``, see below).
"""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import Server, database_ensure, environment

ROOT = Path(__file__).resolve().parent.parent
LOAD_PREFIX = "load_"
LOAD_TIER = "load-test"
# Far above what one simulated person can read in a run (~100 requests a minute at most, each
# of at most 40 posts), yet finite, so the gate charges and checks exactly as for anyone else.
LOAD_BUDGET = 1_000_000
FOLLOWS_OF_SCALE_ACCOUNTS = 100
RSS_SAMPLE_SECONDS = 5
WARM_SECONDS = 30  # RSS "after warm-up" is the first sample this long into the run


def _env(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _configure_environment() -> dict[str, str]:
    """make load's settings: database ``microblog_load``, Redis db 10, tasks to the worker."""
    return environment(
        database="microblog_load",
        redis_db=10,
        # Tasks go to the Celery worker through Redis, as in production.
        CELERY_TASK_ALWAYS_EAGER="0",
        ACCESS_ENFORCEMENT="enforce",
        # gunicorn closes a kept-alive connection after 2 s idle by default; a simulated person
        # thinking about that long races the close and gets a connection reset (0.6-0.7 % of
        # requests in trial runs; none with this). Behind the load balancer of
        # docs/architecture.md that race is the balancer's, so the app's figures leave it out.
        GUNICORN_CMD_ARGS=os.environ.get("GUNICORN_CMD_ARGS") or "--keep-alive 30",
    )


# --- data -------------------------------------------------------------------------------------


def _load_accounts(count: int) -> list[dict]:
    """One account per simulated user on the load tier, following 100 scale accounts and each
    other; a fresh token and web session each run (only hashes of old ones were kept)."""
    from django.contrib.auth.hashers import make_password
    from django.test import Client

    from accounts.models import ApiToken, Tier, User
    from accounts.services import token_create
    from bench.scenarios import scale_accounts_spread
    from feeds.models import Follow
    from feeds.services import follow_create

    tier, _ = Tier.objects.update_or_create(
        slug=LOAD_TIER,
        defaults={
            "name": "Load test",
            "daily_read_budget": LOAD_BUDGET,
            "sort_order": 99,
            "description": "make load's simulated people (bench database only)",
        },
    )
    scale_follows = scale_accounts_spread(FOLLOWS_OF_SCALE_ACCOUNTS)
    users = []
    for index in range(count):
        username = f"{LOAD_PREFIX}{index:03d}"
        password = f"{username}-password-2026"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create(
                username=username,
                email=f"{username}@example.com",
                password=make_password(password),
                date_joined=datetime(2020, 1, 1, tzinfo=UTC),
                tier_override=tier,
            )
        elif user.tier_override_id != tier.pk:
            user.tier_override = tier
            user.save(update_fields=["tier_override"])
        users.append((user, password))
    everyone = {user.pk: user for user, _ in users}
    followees = User.objects.in_bulk(scale_follows)
    for user, _ in users:
        wanted = set(scale_follows) | (set(everyone) - {user.pk})
        have = set(Follow.objects.filter(follower=user).values_list("followee_id", flat=True))
        for followee_id in sorted(wanted - have):
            followee = everyone.get(followee_id) or followees[followee_id]
            follow_create(follower=user, followee=followee)
    ApiToken.objects.filter(user__in=list(everyone)).delete()
    accounts = []
    for user, password in users:
        _, raw = token_create(user=user, name="make load", scopes=["read", "write"])
        client = Client()
        client.force_login(user)
        accounts.append(
            {
                "username": user.username,
                "id": str(user.pk),
                "password": password,
                "token": raw,
                "sessionid": client.cookies["sessionid"].value,
            }
        )
    return accounts


def _profiles(accounts: list[dict]) -> list[dict]:
    """Profiles the simulated people look at: the 50 most followed scale accounts, 150 others
    (fixed seed) and the load accounts themselves (who post during the run)."""
    import random

    from accounts.models import User

    scale = list(
        User.objects.filter(username__startswith="scale_")
        .order_by("-followers_count", "id")
        .values_list("id", "username")
    )
    chosen = scale[:50] + random.Random(8).sample(scale[50:], min(150, len(scale) - 50))
    return [{"id": str(pk), "username": name} for pk, name in chosen] + [
        {"id": account["id"], "username": account["username"]} for account in accounts
    ]


# --- processes --------------------------------------------------------------------------------


class CeleryWorker:
    """A Celery worker with beat (one process) on the load broker, stopped on exit."""

    def __init__(self, env: dict[str, str], workdir: str):
        self.env = {**os.environ, **env}
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "CeleryWorker":
        celery = str(Path(sys.executable).with_name("celery"))
        self.process = subprocess.Popen(
            [celery, "-A", "microblog", "--quiet", "worker", "--beat", "--concurrency", "1",
             "--loglevel", "WARNING", "--hostname", f"load-{os.getpid()}@%h",
             "--schedule", str(Path(self.workdir) / "beat-schedule")],
            cwd=ROOT,
            env=self.env,
        )  # fmt: skip
        from microblog.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the Celery worker exited at start")
            if app.control.ping(timeout=1.0):
                return self
        self.__exit__()
        raise RuntimeError("the Celery worker did not answer a ping within 60 s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class RssSampler(threading.Thread):
    """Samples the resident memory of each gunicorn worker (children of the master) and of the
    Celery processes every few seconds while the load runs."""

    def __init__(self, gunicorn_pid: int, celery_pid: int):
        super().__init__(daemon=True)
        self.gunicorn_pid = gunicorn_pid
        self.celery_pid = celery_pid
        self.samples: list[dict] = []  # {"t": seconds, "workers": {pid: rss}, "celery": rss}
        self.started = time.monotonic()
        self._halt = threading.Event()

    def sample(self) -> dict:
        import psutil

        def rss(process) -> int:
            try:
                return process.memory_info().rss
            except psutil.Error:
                return 0

        def cpu(process) -> float:
            try:
                times = process.cpu_times()
            except psutil.Error:
                return 0.0
            return times.user + times.system

        children = psutil.Process(self.gunicorn_pid).children()
        celery = psutil.Process(self.celery_pid)
        celery_rss = rss(celery) + sum(rss(child) for child in celery.children(recursive=True))
        point = {
            "t": round(time.monotonic() - self.started, 1),
            "workers": {str(child.pid): rss(child) for child in children},
            "workers_cpu_seconds": round(sum(cpu(child) for child in children), 2),
            "celery": celery_rss,
        }
        self.samples.append(point)
        return point

    def run(self) -> None:
        while not self._halt.wait(RSS_SAMPLE_SECONDS):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


def _locust(*, url: str, users: int, seconds: int, spawn_rate: int, env: dict, csv_prefix: str):
    locust = str(Path(sys.executable).with_name("locust"))
    command = [
        locust, "-f", str(ROOT / "bench" / "load.py"), "--headless",
        "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s",
        "--host", url, "--csv", csv_prefix, "--only-summary",
        # Let each simulated person finish its current request so none is cut off uncounted.
        "--stop-timeout", "30", "--loglevel", "WARNING",
    ]  # fmt: skip
    # Locust exits 1 when any request failed; the report below decides.
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, timeout=seconds + 180)


# --- report -----------------------------------------------------------------------------------


def _percentile(ordered: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list, rounded to 0.1 ms."""
    if not ordered:
        return None
    return round(ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)], 1)


def _figures(rows: list[list], seconds: float) -> dict:
    times = sorted(row[3] for row in rows)
    statuses = Counter(row[2] for row in rows)
    return {
        "requests": len(rows),
        "per_second": round(len(rows) / seconds, 2) if seconds else None,
        "status_5xx": sum(n for code, n in statuses.items() if code >= 500),
        "refusals_429": statuses.get(429, 0),
        "connection_errors": statuses.get(0, 0),
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "p50_ms": _percentile(times, 50),
        "p95_ms": _percentile(times, 95),
        "p99_ms": _percentile(times, 99),
        "max_ms": _percentile(times, 100),
    }


def _rss_report(samples: list[dict]) -> dict:
    """Per gunicorn worker: RSS before any load, after warm-up, at the end and at its peak."""
    mib = 1024 * 1024
    first, last = samples[0], samples[-1]
    warm = next((s for s in samples if s["t"] >= WARM_SECONDS), last)
    workers = {}
    for pid in sorted(set(first["workers"]) | set(last["workers"])):
        series = [s["workers"][pid] for s in samples if pid in s["workers"]]
        workers[pid] = {
            "start_mib": round(first["workers"].get(pid, 0) / mib, 1),
            "warm_mib": round(warm["workers"].get(pid, 0) / mib, 1),
            "end_mib": round(last["workers"].get(pid, 0) / mib, 1),
            "peak_mib": round(max(series) / mib, 1),
            "present_at_start": pid in first["workers"],
            "present_at_end": pid in last["workers"],
        }
        workers[pid]["growth_mib"] = round(workers[pid]["end_mib"] - workers[pid]["start_mib"], 1)
        workers[pid]["growth_after_warm_mib"] = round(
            workers[pid]["end_mib"] - workers[pid]["warm_mib"], 1
        )
    return {
        "warm_at_seconds": warm["t"],
        "workers": workers,
        "celery_start_mib": round(first["celery"] / mib, 1),
        "celery_end_mib": round(last["celery"] / mib, 1),
        "workers_cpu_seconds": round(last["workers_cpu_seconds"] - first["workers_cpu_seconds"], 1),
        "samples": samples,
    }


def _after_run(*, accounts: list[dict], started: datetime, metered: int) -> dict:
    """Access log and ledger after the load: records vs metered responses, each reader's
    reads against the budget, and the flags the detectors raised on the load accounts."""
    from access.access_log_drain import access_log_drain
    from access.gate import window_day
    from access.ledgers import ledger_get
    from access.models import AccessLogEntry, Flag

    ids = [int(account["id"]) for account in accounts]
    records = AccessLogEntry.objects.filter(user__in=ids, created_at__gte=started)
    deadline = time.monotonic() + 60
    drained_by_worker = records.count()
    while time.monotonic() < deadline and drained_by_worker < metered:
        time.sleep(2)  # the worker drains every ACCESS_LOG_DRAIN_INTERVAL (5) seconds
        drained_by_worker = records.count()
    left_for_final_drain = access_log_drain()
    ledger = ledger_get()
    used = {
        account["username"]: ledger.peek(principal=f"user:{account['id']}", day=window_day())
        for account in accounts
    }
    flags = Counter(Flag.objects.filter(updated_at__gte=started).values_list("rule", flat=True))
    return {
        "metered_responses": metered,
        "access_log_records": records.count(),
        "drained_by_worker_within_60s": drained_by_worker,
        "stored_by_final_drain": left_for_final_drain,
        "refused_records": records.filter(refused__gt=0).count(),
        "reads_used_max": max(used.values()) if used else 0,
        "reads_used_total": sum(used.values()),
        "budget": LOAD_BUDGET,
        "flags_raised_or_updated": dict(flags),
    }


def format_table(report: dict) -> str:
    config = report["config"]
    lines = [
        f"make load: {config['users']} simulated people for {config['seconds']} s against "
        f"gunicorn (2 workers x 4 threads) + PostgreSQL + Redis + Celery; "
        f"{config['seed_users']} users / {config['seed_posts']} posts seeded",
        "",
        f"{'kind':<44} {'requests':>8} {'req/s':>6} {'5xx':>4} {'429':>4} {'err':>4} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}",
    ]

    def row(label: str, figures: dict) -> str:
        f = {key: "-" if value is None else value for key, value in figures.items()}
        return (
            f"{label:<44} {f['requests']:>8} {f['per_second']:>6} {f['status_5xx']:>4} "
            f"{f['refusals_429']:>4} {f['connection_errors']:>4} {f['p50_ms']:>7} "
            f"{f['p95_ms']:>7} {f['p99_ms']:>7} {f['max_ms']:>7}"
        )

    for kind, figures in report["kinds"].items():
        lines.append(row(kind, figures))
    lines.append(row("all", report["overall"]))
    lines.append("")
    for name, figures in report["names"].items():
        lines.append(row(f"  {name}", figures))
    lines.append("")
    warm = f"+{report['rss']['warm_at_seconds']:.0f} s"
    lines.append(
        f"{'gunicorn worker':<16} {'start MiB':>9} {warm:>9} {'end MiB':>8} {'peak MiB':>8} "
        f"{'growth':>7} {'after warm-up':>13}"
    )
    for pid, w in report["rss"]["workers"].items():
        note = "" if w["present_at_start"] and w["present_at_end"] else "  (replaced!)"
        lines.append(
            f"pid {pid:<12} {w['start_mib']:>9} {w['warm_mib']:>9} {w['end_mib']:>8} "
            f"{w['peak_mib']:>8} {w['growth_mib']:>+7} {w['growth_after_warm_mib']:>+13}{note}"
        )
    lines.append(
        f"Celery worker + beat: {report['rss']['celery_start_mib']} -> "
        f"{report['rss']['celery_end_mib']} MiB"
    )
    cpu = report["rss"]["workers_cpu_seconds"]
    per_request = 1000 * cpu / max(report["overall"]["requests"], 1)
    lines.append(
        f"gunicorn workers used {cpu} CPU s ({per_request:.1f} ms per request); "
        f"machine load average (1 min) before / after: "
        f"{report['load_average_before_after'][0]} / {report['load_average_before_after'][1]}"
    )
    after = report["after"]
    lines.append("")
    lines.append(
        f"Access log: {after['access_log_records']} records for {after['metered_responses']} "
        f"metered responses ({after['drained_by_worker_within_60s']} drained by the Celery "
        f"worker, {after['stored_by_final_drain']} by a final drain); "
        f"{after['refused_records']} records with refused posts"
    )
    lines.append(
        f"Reads charged today: at most {after['reads_used_max']:,} per reader "
        f"(budget {after['budget']:,}), {after['reads_used_total']:,} in all; lowest "
        f"X-RateLimit-Remaining seen: {report['lowest_remaining_seen']}"
    )
    lines.append(f"Detector flags on this run: {after['flags_raised_or_updated'] or 'none'}")
    lines.append("")
    for error in report["connection_errors"][:10]:
        lines.append(f"No response at +{error['t']} s, {error['name']}: {error['error']}")
    verdict = report["verdict"]
    lines.append(
        f"5xx: {verdict['status_5xx']}   refusals of readers under budget: "
        f"{verdict['refusals']}   connection errors: {verdict['connection_errors']}   -> "
        f"{'PASS' if verdict['passed'] else 'FAIL'}"
    )
    return "\n".join(lines)


def main() -> int:
    users = _env("LOAD_USERS", 50)
    seconds = _env("LOAD_SECONDS", 180)
    spawn_rate = _env("LOAD_SPAWN_RATE", 10)
    seed_users = _env("LOAD_SEED_USERS", 2000)
    seed_posts = _env("LOAD_SEED_POSTS", 100_000)
    env = _configure_environment()
    database_ensure(env["DATABASE_URL"])
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_scale", users=seed_users, posts=seed_posts, verbosity=1)
    accounts = _load_accounts(users)
    stamp = f"{datetime.now(tz=UTC):%Y%m%dT%H%M%S}"
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="microblog-load-")
    try:
        fixture = Path(workdir) / "accounts.json"  # holds tokens: removed at the end
        fixture.write_text(json.dumps({"accounts": accounts, "profiles": _profiles(accounts)}))
        samples_file = Path(workdir) / "samples.json"
        locust_env = {"LOAD_ACCOUNTS_FILE": str(fixture), "LOAD_SAMPLES_FILE": str(samples_file)}
        # Records are stamped by the server; a second's slack for clocks read at different times.
        started = datetime.now(tz=UTC) - timedelta(seconds=1)
        load_before = os.getloadavg()
        with CeleryWorker(env, workdir) as worker, Server("load", {}) as server:
            sampler = RssSampler(server.process.pid, worker.process.pid)
            sampler.sample()
            sampler.start()
            began = time.monotonic()
            _locust(
                url=server.url,
                users=users,
                seconds=seconds,
                spawn_rate=spawn_rate,
                env=locust_env,
                csv_prefix=str(out_dir / f"load-{stamp}"),
            )
            elapsed = time.monotonic() - began
            load_after = os.getloadavg()
            sampler.stop()
            if not samples_file.exists():
                raise SystemExit("locust recorded no responses: see its output above.")
            data = json.loads(samples_file.read_text())
            rows = data["samples"]
            metered = sum(1 for row in rows if row[4])
            after = _after_run(accounts=accounts, started=started, metered=metered)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    by_kind: dict[str, list] = defaultdict(list)
    by_name: dict[str, list] = defaultdict(list)
    for row in rows:
        by_kind[row[1]].append(row)
        by_name[row[0]].append(row)
    overall = _figures(rows, elapsed)
    remaining = [row[5] for row in rows if row[5] is not None]
    report = {
        "when": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "config": {
            "users": users,
            "seconds": seconds,
            "spawn_rate": spawn_rate,
            "seed_users": seed_users,
            "seed_posts": seed_posts,
            "database": env["DATABASE_URL"],
            "redis": env["REDIS_URL"],
            "gunicorn": "2 workers x 4 threads (gthread)",
            "wait_seconds": [
                os.environ.get("LOAD_WAIT_MIN", "1"),
                os.environ.get("LOAD_WAIT_MAX", "5"),
            ],
        },
        "elapsed_seconds": round(elapsed, 1),
        # Others' work on the same cores shows here: 1-minute load average before and after.
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "kinds": {kind: _figures(by_kind[kind], elapsed) for kind in ("read", "post", "login")},
        "overall": overall,
        "names": {name: _figures(by_name[name], elapsed) for name in sorted(by_name)},
        "rss": _rss_report(sampler.samples),
        "after": after,
        "lowest_remaining_seen": min(remaining) if remaining else None,
        "connection_errors": [
            {"t": row[7], "name": row[0], "error": row[8]} for row in rows if row[2] == 0
        ],
    }
    report["verdict"] = {
        "status_5xx": overall["status_5xx"],
        "refusals": overall["refusals_429"],
        "connection_errors": overall["connection_errors"],
        "passed": not (
            overall["status_5xx"] or overall["refusals_429"] or overall["connection_errors"]
        ),
    }
    path = out_dir / f"load-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    print(format_table(report))
    print(f"\nwritten: {path.relative_to(ROOT)} (locust's CSVs: bench/results/load-{stamp}_*.csv)")
    return 0 if report["verdict"]["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The measurements `make bench` runs. See bench/__main__.py and docs/performance.md."""

import os
import statistics
import time
from datetime import UTC, datetime
from functools import partial

from django.core.management import call_command
from django.db.models import Q
from django.test import Client

from bench.harness import (
    SPLIT_ATTEMPTS,
    RedisCpu,
    Server,
    interleaved,
    lopsided,
    median,
    postgres_backends_cpu,
)
from bench.harness import load as _load

# The goals of issue 16, judged on req/s measured side by side in one run (CPU per request
# beside them). Each: (label, goal text, check).
GOALS = {
    "near_ceiling": ("controlled home API / trivial view", ">= 0.25", lambda r: r >= 0.25),
    "controls_cost": ("home API, controls on / off", ">= 0.90", lambda r: r >= 0.90),
    "flat_in_depth": ("home 500 pages deep / first page", ">= 0.9", lambda r: r >= 0.9),
    "following_50_vs_1000": (
        "home, following 50 / following 1,000",
        "0.8-1.25",
        lambda r: 0.8 <= r <= 1.25,
    ),
    "following_1000_vs_50": (
        "home, following 1,000 / following 50",
        "0.8-1.25",
        lambda r: 0.8 <= r <= 1.25,
    ),
    "web_vs_api": ("home web page / home API", ">= 0.5", lambda r: r >= 0.5),
    "public_vs_trivial": ("public timeline / trivial view", ">= 0.2", lambda r: r >= 0.2),
    "thread_vs_trivial": ("thread (context) / trivial view", ">= 0.2", lambda r: r >= 0.2),
    "account_vs_trivial": ("account statuses / trivial view", ">= 0.2", lambda r: r >= 0.2),
    "fanout_p99": ("fan-out to 10,000 followers, p99 s", "<= 1 s", lambda r: r <= 1.0),
}
# Reported beside the goals (earlier issues' measures).
ALSO = {
    "controls_p99": ("home API p99 latency, on / off", "report", lambda r: True),
    "flat_in_usage_redis": ("gate, 10,000 vs 20 used (Redis)", "<= 1.05", lambda r: r <= 1.05),
    "flat_in_usage_database": ("gate, 10,000 vs 20 used (DB)", "<= 1.05", lambda r: r <= 1.05),
    "auth_floor": ("token auth alone / trivial view", "report", lambda r: True),
}  # fmt: skip


def _setup_data(users: int, posts: int) -> None:
    call_command("migrate", verbosity=0)
    call_command("seed_scale", users=users, posts=posts, follows_per_user=200, verbosity=1)


def scale_accounts_spread(count: int) -> list[int]:
    """Ids of ``count`` seed_scale accounts spread evenly over the popularity ranks (from the
    most followed down), so a reader following them sees a realistic mix."""
    from accounts.models import User

    ranked = list(
        User.objects.filter(username__startswith="scale_")
        .order_by("-followers_count", "id")
        .values_list("id", flat=True)
    )
    step = max(len(ranked) // count, 1)
    return ranked[::step][:count]


def _reader(username: str, follow_count: int):
    """A bench reader following ``follow_count`` scale accounts spread over the popularity
    ranks, with a read+write token. Re-created identically on every run."""
    from accounts.models import ApiToken, User
    from accounts.services import token_create
    from feeds.models import Follow

    user, _ = User.objects.get_or_create(
        username=username,
        defaults={
            "email": f"{username}@example.com",
            "date_joined": datetime(2020, 1, 1, tzinfo=UTC),
        },
    )
    wanted = scale_accounts_spread(follow_count)
    Follow.objects.filter(follower=user).exclude(followee_id__in=wanted).delete()
    Follow.objects.bulk_create(
        [Follow(follower=user, followee_id=uid) for uid in wanted], ignore_conflicts=True
    )
    # bulk_create keeps no denormalised count; the services would (the home path reads it).
    # Saved, not updated: the save's signal sets a new generation for the cached user.
    user.following_count = Follow.objects.filter(follower=user).count()
    user.save(update_fields=["following_count"])
    ApiToken.objects.filter(user=user).delete()
    _, raw = token_create(user=user, name="bench", scopes=["read", "write"])
    client = Client()
    client.force_login(user)
    return user, raw, client.cookies["sessionid"].value


def _home_max_id_at_depth(user, depth: int) -> int | None:
    from feeds.models import Follow, Post

    followed = Follow.objects.filter(follower=user).values("followee_id")
    return (
        Post.objects.filter(Q(author_id__in=followed) | Q(author=user))
        .order_by("-id")
        .values_list("id", flat=True)[depth : depth + 1]
        .first()
    )


def _gate_flat_in_usage(ledger, rounds: int = 7, calls: int = 400) -> dict:
    """Per-call cost of charging an already-read page of 20 for a reader at 20 used vs at
    10,000 used (9,980 earlier reads + the page), interleaved."""
    from access.gate import window_day

    day = window_day()
    tag = f"{int(time.time())}"
    low, high = f"bench:low:{tag}", f"bench:high:{tag}"
    page = list(range(10_000_000, 10_000_020))
    ledger.charge(principal=high, day=day, limit=None, post_ids=list(range(1, 9_981)))
    ledger.charge(principal=high, day=day, limit=10_000, post_ids=page)
    ledger.charge(principal=low, day=day, limit=10_000, post_ids=page)

    def per_call(principal: str) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            ledger.charge(principal=principal, day=day, limit=10_000, post_ids=page)
        return (time.perf_counter() - started) / calls

    lows, highs = [], []
    for index in range(rounds):
        pair = [(low, lows), (high, highs)]
        for principal, bucket in pair if index % 2 == 0 else reversed(pair):
            bucket.append(per_call(principal))
    return {
        "at_20_used_us": statistics.median(lows) * 1e6,
        "at_10000_used_us": statistics.median(highs) * 1e6,
        "ratio": statistics.median(highs) / statistics.median(lows),
    }


def _redis_round_trips_and_bytes() -> dict:
    """Round trips per gate call (counted at the client) and bytes of one reader-day."""
    import redis

    from access.gate import window_day
    from access.ledgers import _redis_ledger

    ledger = _redis_ledger()
    counted = {"n": 0}
    original = redis.Redis.execute_command

    def counting(self, *args, **kwargs):
        counted["n"] += 1
        return original(self, *args, **kwargs)

    day = window_day()
    principal = f"bench:bytes:{int(time.time())}"
    ledger.charge(principal=principal, day=day, limit=10_000, post_ids=[1])  # loads the script
    redis.Redis.execute_command = counting
    try:
        for start in range(0, 10_000, 20):
            ledger.charge(
                principal=principal, day=day, limit=10_000, post_ids=list(range(start, start + 20))
            )
    finally:
        redis.Redis.execute_command = original
    from django_redis import get_redis_connection

    connection = get_redis_connection("default")
    keys = list(connection.scan_iter(match=f"*{principal}*"))
    size = sum(connection.memory_usage(key) or 0 for key in keys)
    return {"round_trips_per_gate_call": counted["n"] / 500, "bytes_per_reader_day_10000": size}


def _exactness(*, readers, started, responses: int) -> dict:
    """After the load: drain the access log, then compare records with the responses wrk
    counted, and each reader's posts delivered today with their budget."""
    from access.access_log_drain import access_log_drain
    from access.gate import window_day
    from access.ledgers import ledger_get
    from access.models import AccessLogEntry
    from accounts.selectors import effective_tier

    access_log_drain()
    records = AccessLogEntry.objects.filter(
        user__in=[reader.pk for reader in readers], created_at__gte=started
    ).count()
    ledger = ledger_get()
    budgets = {
        reader.username: {
            "used": ledger.peek(principal=f"user:{reader.pk}", day=window_day()),
            "budget": effective_tier(reader).daily_read_budget,
        }
        for reader in readers
    }
    return {"metered_responses_counted_by_wrk": responses, "access_log_records": records,
            "budgets": budgets}  # fmt: skip


def _thread_and_account() -> tuple[int, int]:
    """A conversation with replies (a root with about ten, found from the newest down) and
    a popular scale account, for the context and account-statuses measures."""
    from feeds.models import Post

    root = (
        Post.objects.filter(reply_to__isnull=True, repost_of__isnull=True, replies_count__gte=5)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return root, scale_accounts_spread(100)[0]


def _warm(url: str, headers: dict[str, str]) -> None:
    """One request before measuring: loads the code paths and materialises the reader's
    home timeline (a cold reader is served by the database and rebuilt)."""
    import urllib.request

    for _ in range(2):
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass


def run_all(*, env: dict, users: int, posts: int, rounds: int, seconds: int) -> dict:
    from bench import fanout
    from feeds.home_feed import home_feed_enabled

    _setup_data(users, posts)
    f50, token50, _ = _reader("bench_f50", 50)
    f1000, token1000, session1000 = _reader("bench_f1000", 1000)
    deep_max_id = _home_max_id_at_depth(f1000, 500 * 20)
    thread_id, account_id = _thread_and_account()

    api = "/api/v1/timelines/home"
    auth50 = {"Authorization": f"Bearer {token50}"}
    auth1000 = {"Authorization": f"Bearer {token1000}"}
    web_headers = {"Cookie": f"sessionid={session1000}"}
    report: dict = {"users": users, "posts": posts, "rounds": rounds, "seconds": seconds,
                    "home_feed": home_feed_enabled(), "cores": os.cpu_count()}  # fmt: skip

    import redis

    # Beside each server's CPU: its database backends' and the Redis server's, per request.
    load = partial(
        _load,
        postgres=postgres_backends_cpu(env["DATABASE_URL"]),
        redis=RedisCpu(redis.Redis.from_url(env["REDIS_URL"])),
    )
    started = datetime.now(tz=UTC)
    with (
        Server("enforce", {"ACCESS_ENFORCEMENT": "enforce"}) as enforce,
        Server("off", {"ACCESS_ENFORCEMENT": "off"}) as off,
    ):
        deep = f"{enforce.url}{api}?max_id={deep_max_id}" if deep_max_id else None
        measurements = {
            "trivial": lambda: load(f"{enforce.url}/healthz", seconds=seconds, server=enforce),
            # The floor for any token-authenticated API request: one query, one small entity.
            "auth_only": lambda: load(
                f"{enforce.url}/api/v1/accounts/verify_credentials",
                headers=auth1000,
                seconds=seconds,
                server=enforce,
            ),
            "home_enforce": lambda: load(
                f"{enforce.url}{api}", headers=auth1000, seconds=seconds, server=enforce
            ),
            "home_off": lambda: load(
                f"{off.url}{api}", headers=auth1000, seconds=seconds, server=off
            ),
            "home_f50": lambda: load(
                f"{enforce.url}{api}", headers=auth50, seconds=seconds, server=enforce
            ),
            "web_home": lambda: load(
                f"{enforce.url}/", headers=web_headers, seconds=seconds, server=enforce
            ),
        }
        if deep:
            measurements["home_deep"] = lambda: load(
                deep, headers=auth1000, seconds=seconds, server=enforce
            )
        surfaces = {
            "public": f"{enforce.url}/api/v1/timelines/public",
            "thread": f"{enforce.url}/api/v1/statuses/{thread_id}/context",
            "account": f"{enforce.url}/api/v1/accounts/{account_id}/statuses",
        }
        for name, url in surfaces.items():
            measurements[name] = lambda url=url: load(
                url, headers=auth1000, seconds=seconds, server=enforce
            )
        for server in (enforce, off):
            _warm(f"{server.url}{api}", auth1000)
            _warm(f"{server.url}{api}", auth50)
        _warm(f"{enforce.url}/", web_headers)
        for url in surfaces.values():
            _warm(url, auth1000)
        results = interleaved(measurements, rounds)

    report["exactness"] = _exactness(
        readers=[f50, f1000],
        started=started,
        responses=sum(
            r.requests + r.discarded_requests
            for name, values in results.items()
            if name
            in {"home_enforce", "home_f50", "home_deep", "web_home", "public", "thread", "account"}
            for r in values
        ),
    )
    rps = {name: median(values, "requests_per_second") for name, values in results.items()}
    p99 = {name: median(values, "p99_ms") for name, values in results.items()}
    p50 = {name: median(values, "p50_ms") for name, values in results.items()}
    cpu = {name: median(values, "cpu_ms_per_request") for name, values in results.items()}
    columns = ("pg_cpu", "redis_cpu", "wrk_cpu", "machine_busy", "machine_steal")
    per_request = {
        column: {
            name: median(values, f"{column}_ms_per_request") for name, values in results.items()
        }
        for column in columns
    }
    errors = {name: sum(r.non_2xx for r in values) for name, values in results.items()}
    report["requests_per_second"] = rps
    report["p50_ms"] = p50
    report["p99_ms"] = p99
    report["server_cpu_ms_per_request"] = cpu
    report["postgres_cpu_ms_per_request"] = per_request["pg_cpu"]
    report["redis_cpu_ms_per_request"] = per_request["redis_cpu"]
    report["wrk_cpu_ms_per_request"] = per_request["wrk_cpu"]
    report["machine_busy_ms_per_request"] = per_request["machine_busy"]
    report["machine_steal_ms_per_request"] = per_request["machine_steal"]
    report["requests_per_second_by_round"] = {
        name: [round(r.requests_per_second, 1) for r in values] for name, values in results.items()
    }
    report["non_2xx"] = errors
    # Which worker held wrk's connections, per round, and how many runs each round took.
    report["connection_split_by_round"] = {
        name: [list(r.connection_split) for r in values] for name, values in results.items()
    }
    report["attempts_by_round"] = {
        name: [r.attempts for r in values] for name, values in results.items()
    }

    from access.ledgers import _redis_ledger, database_ledger

    flat_redis = _gate_flat_in_usage(_redis_ledger())
    flat_db = _gate_flat_in_usage(database_ledger(), calls=100)
    report["gate_flat_in_usage"] = {"redis": flat_redis, "database": flat_db}
    report["redis"] = _redis_round_trips_and_bytes()
    if report["home_feed"]:
        report["fanout"] = fanout.run(env=env, posts=int(os.environ.get("BENCH_FANOUT_POSTS", 20)))
        report["home_feed_memory"] = fanout.bytes_per_entry(scale_accounts_spread(20))

    ratios = {
        "controls_cost": rps["home_enforce"] / rps["home_off"],
        "controls_p99": p99["home_enforce"] / p99["home_off"],
        "flat_in_usage_redis": flat_redis["ratio"],
        "flat_in_usage_database": flat_db["ratio"],
        "following_50_vs_1000": rps["home_f50"] / rps["home_enforce"],
        "following_1000_vs_50": rps["home_enforce"] / rps["home_f50"],
        "near_ceiling": rps["home_enforce"] / rps["trivial"],
        "web_vs_api": rps["web_home"] / rps["home_enforce"],
        "auth_floor": rps["auth_only"] / rps["trivial"],
        "public_vs_trivial": rps["public"] / rps["trivial"],
        "thread_vs_trivial": rps["thread"] / rps["trivial"],
        "account_vs_trivial": rps["account"] / rps["trivial"],
    }
    if "fanout" in report:
        ratios["fanout_p99"] = report["fanout"]["delay_seconds"]["p99"]
    # The same comparisons by the server's CPU per request (steadier on a shared machine):
    # a ratio of trivial / controlled cost reads like the req/s ratio above.
    report["cpu_ratios"] = {
        "controls_cost": cpu["home_off"] / cpu["home_enforce"],
        "following_50_vs_1000": cpu["home_enforce"] / cpu["home_f50"],
        "following_1000_vs_50": cpu["home_f50"] / cpu["home_enforce"],
        "near_ceiling": cpu["trivial"] / cpu["home_enforce"],
        "web_vs_api": cpu["home_enforce"] / cpu["web_home"],
        "auth_floor": cpu["trivial"] / cpu["auth_only"],
        "public_vs_trivial": cpu["trivial"] / cpu["public"],
        "thread_vs_trivial": cpu["trivial"] / cpu["thread"],
        "account_vs_trivial": cpu["trivial"] / cpu["account"],
    }
    if "home_deep" in cpu:
        report["cpu_ratios"]["flat_in_depth"] = cpu["home_enforce"] / cpu["home_deep"]
    if "home_deep" in rps:
        ratios["flat_in_depth"] = rps["home_deep"] / rps["home_enforce"]
    report["ratios"] = ratios
    return report


def _connection_split_lines(report: dict) -> list[str]:
    """How wrk's connections fell on gunicorn's workers: runs started again because one
    worker had too few, and any round measured lopsided anyway (its req/s is suspect)."""
    redone = sum(
        attempts - 1 for values in report["attempts_by_round"].values() for attempts in values
    )
    splits = report["connection_split_by_round"]
    still = [
        f"{name} round {index + 1} ({'/'.join(map(str, split))})"
        for name, values in splits.items()
        for index, split in enumerate(values)
        if split and lopsided(split, sum(split))
    ]
    lines = [
        f"wrk's connections per gunicorn worker: runs started again for a lopsided split: "
        f"{redone}; measured lopsided after {SPLIT_ATTEMPTS} runs: {', '.join(still) or 'none'}"
    ]
    return lines


def _core_time_table(report: dict) -> list[str]:
    """Where each endpoint's core time went, ms per request (medians over rounds)."""
    cores = report.get("cores") or os.cpu_count() or 1
    lines = [
        f"{'endpoint':<14} {'CPU ms/req':>10} {'PG CPU ms/req':>13} {'Redis':>6} {'wrk':>5} "
        f"{'sum':>6} {'machine':>8} {'steal':>6} {'cores ms':>8}"
    ]
    for name, value in report["requests_per_second"].items():
        parts = [
            report[column][name]
            for column in (
                "server_cpu_ms_per_request", "postgres_cpu_ms_per_request",
                "redis_cpu_ms_per_request", "wrk_cpu_ms_per_request",
            )
        ]  # fmt: skip
        ours = sum(part for part in parts if part == part)  # NaN: not measured
        lines.append(
            f"{name:<14} {parts[0]:>10.2f} {parts[1]:>13.2f} {parts[2]:>6.2f} {parts[3]:>5.2f} "
            f"{ours:>6.2f} {report['machine_busy_ms_per_request'][name]:>8.2f} "
            f"{report['machine_steal_ms_per_request'][name]:>6.2f} "
            f"{cores * 1000 / value if value else float('nan'):>8.2f}"
        )
    lines.append(
        "(CPU: gunicorn's master and workers; PG CPU: the backends of the bench database; "
        "Redis: the whole Redis server, other databases' clients included; wrk: the load "
        "generator; sum: those four; machine: every core's busy time, any process's, steal "
        f"included; steal: taken by the hypervisor; cores ms: the {cores} cores' time per "
        "request, cores / (req/s). machine - sum is other tenants, the kernel's interrupts "
        "and the bench's own process; cores ms - machine is idle time)"
    )
    return lines


def format_table(report: dict) -> str:
    lines = [
        f"make bench: {report['users']} users, {report['posts']} posts, "
        f"{report['rounds']} interleaved rounds of {report['seconds']} s (medians)",
        "",
        f"{'measure':<46} {'ratio':>7}  {'goal':>8}  met  {'by CPU':>7}",
    ]

    def rows(goals: dict) -> None:
        for key, (label, goal, check) in goals.items():
            value = report["ratios"].get(key)
            if value is None:
                lines.append(f"{label:<46} {'n/a':>7}  {goal:>8}")
                continue
            by_cpu = report.get("cpu_ratios", {}).get(key)
            cpu_text = f"{by_cpu:>7.3f}" if by_cpu is not None else f"{'':>7}"
            met = "yes" if check(value) else "NO "
            lines.append(f"{label:<46} {value:>7.3f}  {goal:>8}  {met}  {cpu_text}")

    rows(GOALS)
    lines.append("also:")
    rows(ALSO)
    lines.append("")
    lines.append(
        f"{'endpoint':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
        f"{'CPU ms/req':>10}  req/s by round"
    )
    for name, value in report["requests_per_second"].items():
        lines.append(
            f"{name:<14} {value:>9.1f} {report['p50_ms'][name]:>8.2f} "
            f"{report['p99_ms'][name]:>8.2f} {report['non_2xx'][name]:>8} "
            f"{report['server_cpu_ms_per_request'][name]:>10.2f}  "
            f"{report['requests_per_second_by_round'][name]}"
        )
    if "connection_split_by_round" in report:
        lines += ["", *_connection_split_lines(report)]
    if "postgres_cpu_ms_per_request" in report:
        lines += ["", *_core_time_table(report)]
    exact = report["exactness"]
    lines.append("")
    lines.append(
        f"Access log: {exact['access_log_records']} records for "
        f"{exact['metered_responses_counted_by_wrk']} metered responses wrk counted "
        "(runs stopped for a lopsided split included; wrk does not count requests still in "
        "flight when a run ends)"
    )
    for name, figures in exact["budgets"].items():
        lines.append(f"Budget {name}: {figures['used']} posts read today of {figures['budget']}")
    redis_stats = report["redis"]
    lines.append("")
    lines.append(f"Redis round trips per gate call: {redis_stats['round_trips_per_gate_call']:.2f}")
    lines.append(
        f"Ledger bytes per reader-day at 10,000 reads: {redis_stats['bytes_per_reader_day_10000']}"
    )
    for name, stats in report["gate_flat_in_usage"].items():
        lines.append(
            f"Gate ({name}): {stats['at_20_used_us']:.0f} us at 20 used, "
            f"{stats['at_10000_used_us']:.0f} us at 10,000 used"
        )
    lines.append("")
    if not report.get("home_feed"):
        lines.append("Home timelines are not materialised (HOME_FEED off or no Redis).")
        return "\n".join(lines)
    fan = report["fanout"]
    delay = fan["delay_seconds"]
    lines.append(
        f"Fan-out, author with {fan['followers']:,} followers, real Celery worker (2 processes): "
        f"post-to-every-timeline p50 {delay['p50']:.3f} s, p99 {delay['p99']:.3f} s, "
        f"max {delay['max']:.3f} s over {fan['posts']} posts; a burst of {fan['posts']} posts: "
        f"{fan['burst_posts_per_second']:.2f} posts/s ({fan['entries_per_second']:,.0f} "
        f"timeline entries/s); one fan-out in-process (eager): "
        f"{fan['eager_seconds_per_post']:.3f} s"
    )
    memory = report["home_feed_memory"]
    lines.append(
        f"Home timeline memory: {memory['bytes_per_entry']:.1f} bytes/entry "
        f"({memory['timelines']} rebuilt timelines, {memory['entries']:,} entries, "
        f"{memory['encoding']}); as a listpack (zset-max-listpack-entries 1024): "
        f"{memory['listpack_bytes_per_entry']:.1f} bytes/entry"
    )
    return "\n".join(lines)

"""Leak tracing at scale (issue 17): seed delivery provenance for many readers, posts and days on
PostgreSQL, then time ``leak_trace`` on a 50-post dump — with ids, and as bare edited text — and
print the plan of every query the text trace made.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/microblog_l17_scale \
        .venv/bin/python -m bench.leak_trace_scale [--readers 10000] [--posts 1000000] \
        [--days 90] [--rows-per-day 2] [--ids-per-row 20]

Seeding is done by the database itself (``INSERT … SELECT generate_series``), in one pass per
table; rerunning with the same figures reuses what is there. The text fingerprint index and the
reader-day roll-up are rebuilt after the bulk load (``leak_index_rebuild`` does the same).
Ordinary readers receive random posts (a few popular ones more often); one harvester receives
1,000 old posts a day over the last five days, through one token, from one network. The dump
is 50 of the harvester's posts, as Mastodon statuses (id, URL, HTML content) and again as text
lines, upper-cased, punctuated and with one character in ten changed.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta

from bench.harness import database_ensure, environment

HARVEST_DAYS = 5
HARVEST_PER_DAY = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rows-per-day", type=int, default=2, help="gate passes per reader-day")
    parser.add_argument("--ids-per-row", type=int, default=20, help="posts per gate pass")
    args = parser.parse_args()
    env = environment(database="microblog_wt17_scale", redis_db=12, ACCESS_LEDGER="database")
    database_ensure(env["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seed(args)
    report(args)


def _sql(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def seed(args) -> None:
    """Users, posts and provenance, unless a previous run with these figures left them."""
    from django.utils import timezone

    from access.models import DeliveryProvenance
    from accounts.models import User
    from feeds.models import Post
    from leaks.fingerprints import fingerprints_rebuild
    from leaks.rollup import reader_days_rebuild

    marker = f"scale-{args.readers}-{args.posts}-{args.days}-{args.rows_per_day}-{args.ids_per_row}"
    if DeliveryProvenance.objects.filter(record_id=marker).exists():
        print(f"seed: reusing {marker}")
        return
    started = time.monotonic()
    # TRUNCATE fires no row trigger; the derived tables are rebuilt after the seed.
    _sql("TRUNCATE access_deliveryprovenance, leaks_readerdayvolume, leaks_postfingerprint")
    Post.objects.all().delete()
    User.objects.filter(username__startswith="scale_").delete()
    joined = timezone.now() - timedelta(days=400)
    User.objects.bulk_create(
        [
            User(username=f"scale_{n}", email=f"scale_{n}@bench.invalid", date_joined=joined,
                 password="!")  # noqa: S106 - "!": unusable; readers, then 1,000 authors, then the harvester
            for n in range(args.readers + 1001)
        ],
        batch_size=5000,
    )  # fmt: skip
    first_user = User.objects.filter(username="scale_0").values_list("pk", flat=True).get()
    _sql(
        """INSERT INTO feeds_post (author_id, text, created_at, replies_count, reposts_count,
               likes_count)
           SELECT %s + %s + (g %% 1000), 'Scale post ' || g || ' ' || md5(g::text) || ' '
               || md5((g * 7)::text), now() - (%s - g) * interval '1 second', 0, 0, 0
           FROM generate_series(1, %s) AS g""",
        [first_user, args.readers, args.posts, args.posts],
    )
    first_post = Post.objects.order_by("id").values_list("pk", flat=True).first()
    print(f"seed: users and {args.posts:,} posts in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    keys = fingerprints_rebuild()
    print(f"seed: fingerprint index, {keys:,} keys, in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    # One roll-up upsert per seeded row would be slow: off for the bulk load, rebuilt after.
    _sql("ALTER TABLE access_deliveryprovenance DISABLE TRIGGER provenance_reader_day")
    # Ordinary readers: each row is one gate pass of random posts, a tenth of them among the
    # 2,000 newest (the popular ones). The outer column reference makes the subquery run per row.
    _sql(
        """INSERT INTO access_deliveryprovenance (record_id, day, created_at, principal, user_id,
               token_id, client_ip, ip_prefix, post_count, post_ids)
           SELECT md5(r::text || '-' || d || '-' || k), current_date - d,
               (current_date - d) + interval '12 hours', 'user:' || (%(u)s + r), %(u)s + r,
               NULL, ('10.' || (r / 250) %% 250 || '.' || r %% 250 || '.7')::inet,
               '10.' || (r / 250) %% 250 || '.' || r %% 250 || '.0/24', %(n)s,
               ARRAY(SELECT CASE WHEN random() < 0.1
                        THEN %(p)s + %(posts)s - 1 - floor(random() * 2000)::bigint
                        ELSE %(p)s + floor(random() * %(posts)s)::bigint END
                     FROM generate_series(1, %(n)s) WHERE r >= 0 AND d >= 0 AND k >= 0)
           FROM generate_series(0, %(readers)s - 1) AS r,
                generate_series(0, %(days)s - 1) AS d,
                generate_series(1, %(rows)s) AS k""",
        {
            "u": first_user,
            "n": args.ids_per_row,
            "p": first_post,
            "posts": args.posts,
            "readers": args.readers,
            "days": args.days,
            "rows": args.rows_per_day,
        },
    )
    # The harvester: 1,000 consecutive old posts a day for five days, 40 per pass.
    harvester = first_user + args.readers + 1000
    _sql(
        """INSERT INTO access_deliveryprovenance (record_id, day, created_at, principal, user_id,
               token_id, client_ip, ip_prefix, post_count, post_ids)
           SELECT md5('harvest-' || d || '-' || k), current_date - d,
               (current_date - d) + interval '13 hours', 'user:' || %(h)s, %(h)s, 4242,
               '192.0.2.99'::inet, '192.0.2.0/24', 40,
               ARRAY(SELECT %(p)s + 100000 + d * 1000 + k * 40 + j FROM generate_series(0, 39) j)
           FROM generate_series(0, %(hd)s - 1) AS d, generate_series(0, 24) AS k""",
        {"h": harvester, "p": first_post, "hd": HARVEST_DAYS},
    )
    _sql(
        """INSERT INTO access_deliveryprovenance (record_id, day, created_at, principal,
               ip_prefix, post_count, post_ids) VALUES (%s, current_date, now(), 'bench', '', 0,
               '{}')""",
        [marker],
    )
    _sql("ALTER TABLE access_deliveryprovenance ENABLE TRIGGER provenance_reader_day")
    print(f"seed: provenance in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    days = reader_days_rebuild()
    print(f"seed: roll-up, {days:,} reader-days, in {time.monotonic() - started:.0f} s")
    _sql("ANALYZE access_deliveryprovenance")
    _sql("ANALYZE leaks_readerdayvolume")
    _sql("ANALYZE leaks_postfingerprint")


def _size(relation: str) -> int:
    return _sql("SELECT pg_total_relation_size(%s)", [relation])[0][0]


def report(args) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from feeds.models import Post
    from leaks.services import leak_trace

    rows, ids = _sql("SELECT count(*), sum(post_count) FROM access_deliveryprovenance")[0]
    table, index_gin, total = _sql(
        """SELECT pg_relation_size('access_deliveryprovenance'),
                  pg_relation_size('provenance_post_ids_gin'),
                  pg_total_relation_size('access_deliveryprovenance')"""
    )[0]
    print(
        f"provenance: {rows:,} rows, {ids:,} delivered posts; table {table / 2**20:,.0f} MiB, "
        f"GIN {index_gin / 2**20:,.0f} MiB, all with indexes and TOAST {total / 2**20:,.0f} MiB"
        f" = {1000 * total / ids:,.0f} bytes per 1,000 delivered posts"
    )
    rollup, reader_days = (
        _size("leaks_readerdayvolume"),
        _sql("SELECT count(*) FROM leaks_readerdayvolume")[0][0],
    )
    print(
        f"roll-up: {reader_days:,} reader-days, {rollup / 2**20:,.0f} MiB with its indexes "
        f"= {1000 * rollup / ids:,.0f} bytes per 1,000 delivered posts"
    )
    fingerprints, keys = (
        _size("leaks_postfingerprint"),
        _sql("SELECT count(*) FROM leaks_postfingerprint")[0][0],
    )
    print(
        f"fingerprint index: {keys:,} keys for {args.posts:,} posts, "
        f"{fingerprints / 2**20:,.0f} MiB with its indexes ({fingerprints / args.posts:,.0f} "
        "bytes per post)"
    )
    first_post = Post.objects.order_by("id").values_list("pk", flat=True).first()
    harvested = [first_post + 100000 + d * 1000 + k for d in range(HARVEST_DAYS) for k in (3, 500)]
    harvested += [first_post + 100000 + 7 + 97 * n for n in range(40)]
    harvested = sorted(set(harvested))[:50]
    texts = dict(Post.objects.filter(pk__in=harvested).values_list("id", "text"))
    statuses = [
        {"id": str(pid), "url": f"https://example.com/posts/{pid}/", "content": f"<p>{text}</p>"}
        for pid, text in texts.items()
    ]
    plans = []
    for label, data, fmt in [
        ("Mastodon JSON with URLs", json.dumps(statuses), "json"),
        # Upper-cased, punctuation added, and one character in ten changed: no id to go by.
        ("text lines, no ids, 10 % edited", "\n".join(_edited(t) for t in texts.values()), "text"),
    ]:
        for run in (1, 2):
            with CaptureQueriesContext(connection) as queries:
                started = time.monotonic()
                result = leak_trace(data=data, fmt=fmt, via="bench")
                elapsed = time.monotonic() - started
            named = [(r.principal, r.posts, r.significance) for r in result.named]
            print(
                f"trace ({label}, run {run}): {elapsed:.2f} s; {len(result.matched)} matched; "
                f"{result.readers_in_window:,} readers over {len(result.window_days)} days; "
                f"{len(queries)} queries; named {named}"
            )
        if fmt == "text":
            plans = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    print("plans of the text trace's queries (EXPLAIN ANALYZE):")
    with connection.cursor() as cursor:
        for sql in plans:
            print(f"  {sql[:110]}…")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            for (line,) in cursor.fetchall():
                print("      ", line)


def _edited(text: str, share: float = 0.10) -> str:
    """``text`` upper-cased, with a comma after the first word and one character in ten
    replaced (every tenth, so the run is the same each time)."""
    chars = list(text.upper().replace(" ", ", ", 1))
    for at in range(5, len(chars), round(1 / share)):
        chars[at] = "x" if chars[at] != "x" else "y"
    return "".join(chars)


if __name__ == "__main__":
    main()

"""Fan-out on write, measured: an author with 10,000 followers posts; how many posts a second
the fan-out sustains, and how long until a post is on *every* follower's home timeline.

Runs with a real Celery worker (``celery -A microblog worker``, 2 processes, broker = the
bench Redis) consuming the tasks the post's commit queues, exactly as production would; the
timing starts before ``post_create`` and stops when the last follower's sorted set holds the
post (polled with pipelined ZSCOREs of the followers still missing it). Also reports the
in-process cost of one fan-out (eager: the task body alone) and Redis bytes per entry of a
materialised home timeline (MEMORY USAGE of real, rebuilt timelines).

    python -m bench.fanout             # after make bench has seeded microblog_bench
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLLOWERS = 10_000
AUTHOR = "bench_fanout"


def _author_with_followers(count: int):
    """The bench author, followed by ``count`` seed_scale accounts (created once)."""
    from datetime import UTC, datetime

    from accounts.models import User
    from feeds.models import Follow

    author, _ = User.objects.get_or_create(
        username=AUTHOR,
        defaults={
            "email": f"{AUTHOR}@example.com",
            "date_joined": datetime(2020, 1, 1, tzinfo=UTC),
        },
    )
    followers = list(
        User.objects.filter(username__startswith="scale_")
        .order_by("id")
        .values_list("id", flat=True)[:count]
    )
    Follow.objects.bulk_create(
        [Follow(follower_id=uid, followee=author) for uid in followers], ignore_conflicts=True
    )
    return author, followers


def _materialise(feed, user_ids: list[int], filler_below: int) -> None:
    """Give each follower a full timeline (the cap of placeholder ids below the posts the
    bench makes), so every push pays the trim as in steady state. Deleted afterwards."""
    filler = list(range(filler_below - feed.max_entries, filler_below))
    floor = filler[0]
    pipe = feed.client.pipeline(transaction=False)
    for index, user_id in enumerate(user_ids, 1):
        key = feed.key(user_id)
        pipe.delete(key)
        pipe.zadd(key, {"m": -1 - floor, **{str(i): i for i in filler}})
        if index % 200 == 0:
            pipe.execute()
    pipe.execute()


def _wait_delivered(feed, post_id: int, user_ids: list[int], timeout: float = 60) -> float:
    """Seconds until every reader's set has ``post_id`` (polled), from now."""
    started = time.perf_counter()
    missing = list(user_ids)
    while missing and time.perf_counter() - started < timeout:
        pipe = feed.client.pipeline(transaction=False)
        for user_id in missing:
            pipe.zscore(feed.key(user_id), post_id)
        scores = pipe.execute()
        missing = [uid for uid, score in zip(missing, scores, strict=True) if score is None]
        if missing:
            time.sleep(0.005)
    if missing:
        raise RuntimeError(f"post {post_id} missing from {len(missing)} timelines after {timeout}s")
    return time.perf_counter() - started


def _worker(env: dict[str, str]) -> subprocess.Popen:
    celery = str(Path(sys.executable).with_name("celery"))
    return subprocess.Popen(  # noqa: S603 - our own worker, fixed arguments
        [celery, "-A", "microblog", "worker", "--concurrency", "2", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env={**os.environ, **env, "CELERY_TASK_ALWAYS_EAGER": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def bytes_per_entry(readers: list[int]) -> dict:
    """Redis MEMORY USAGE of real timelines rebuilt from the database, per entry; and of the
    same members on a scratch redis-server with ``zset-max-listpack-entries 1024`` (the
    compact encoding a deployment can choose for sets of up to the cap)."""
    from feeds.home_feed import home_feed_get
    from feeds.home_timelines import home_feed_rebuild

    feed = home_feed_get()
    sizes, entries, members = 0, 0, []
    for user_id in readers:
        feed.forget([user_id])
        home_feed_rebuild(user_id=user_id)
        key = feed.key(user_id)
        sizes += feed.client.memory_usage(key, samples=0) or 0
        entries += feed.client.zcard(key) - 1  # the marker is not an entry
        members.append(feed.client.zrange(key, 0, -1, withscores=True))
    encoding = feed.client.object("encoding", feed.key(readers[0])).decode()
    return {
        "timelines": len(readers),
        "entries": entries,
        "bytes": sizes,
        "bytes_per_entry": sizes / entries if entries else float("nan"),
        "encoding": encoding,
        "listpack_bytes_per_entry": _listpack_bytes(members) / entries if entries else 0,
    }


def _listpack_bytes(sets: list[list[tuple[bytes, float]]]) -> int:
    """Bytes of the same sorted sets on a scratch redis-server keeping them as listpacks."""
    import redis

    from bench.harness import free_port

    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - a scratch server of our own
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--zset-max-listpack-entries", "1024"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        total = 0
        for index, pairs in enumerate(sets):
            key = f"{{u:{index}}}:home"
            client.zadd(key, dict(pairs))
            total += client.memory_usage(key, samples=0) or 0
        return total
    finally:
        server.kill()
        server.wait(timeout=10)


def run(*, env: dict[str, str], posts: int = 20, followers: int = FOLLOWERS) -> dict:
    """Fan-out figures for ``posts`` posts by an author with ``followers`` followers."""
    from celery import current_app
    from django.conf import settings

    from feeds.home_feed import home_feed_get
    from feeds.home_timelines import home_feed_fanout
    from feeds.models import Post
    from feeds.services import post_create, post_delete

    feed = home_feed_get()
    if feed is None:
        raise SystemExit("bench.fanout needs REDIS_URL (materialised home timelines are on Redis)")
    author, follower_ids = _author_with_followers(followers)
    readers = [author.pk, *follower_ids]
    top = (Post.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    _materialise(feed, readers, filler_below=top)
    # The last reader of each fan-out batch is written last in its batch: polling those
    # (then checking everyone, untimed) keeps the poll from slowing what it measures.
    batch = settings.HOME_FEED_FANOUT_BATCH
    sentinels = [readers[min(start + batch, len(readers)) - 1]
                 for start in range(0, len(readers), batch)]  # fmt: skip
    report: dict = {"followers": len(follower_ids), "posts": posts,
                    "batch": settings.HOME_FEED_FANOUT_BATCH}  # fmt: skip
    made: list[Post] = []
    try:
        # In-process, eager: the cost of the fan-out's own work (one process, one core).
        current_app.conf.task_always_eager = True
        eager = []
        for index in range(5):
            post = Post.objects.create(author=author, text=f"eager fan-out {index}")
            made.append(post)
            started = time.perf_counter()
            home_feed_fanout(post_id=post.pk)
            eager.append(time.perf_counter() - started)
        report["eager_seconds_per_post"] = statistics.median(eager)

        # A real worker: latency of one post at a time, then throughput of a burst.
        current_app.conf.task_always_eager = False
        worker = _worker(env)
        try:
            warm = post_create(author=author, text="warm-up")
            made.append(warm)
            _wait_delivered(feed, warm.pk, readers, timeout=120)
            delays = []
            for index in range(posts):
                started = time.perf_counter()
                post = post_create(author=author, text=f"fan-out {index}")
                made.append(post)
                _wait_delivered(feed, post.pk, sentinels)
                delays.append(time.perf_counter() - started)
                _wait_delivered(feed, post.pk, readers, timeout=1)  # and really everyone
            report["delay_seconds"] = {
                "p50": statistics.median(delays),
                "p99": statistics.quantiles(delays, n=100, method="inclusive")[98],
                "max": max(delays),
            }
            started = time.perf_counter()
            burst = [post_create(author=author, text=f"burst {i}") for i in range(posts)]
            made.extend(burst)
            for post in burst:
                _wait_delivered(feed, post.pk, sentinels, timeout=300)
            elapsed = time.perf_counter() - started
            for post in burst:
                _wait_delivered(feed, post.pk, readers, timeout=1)
            report["burst_posts_per_second"] = posts / elapsed
            report["entries_per_second"] = posts * len(readers) / elapsed
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    finally:
        current_app.conf.task_always_eager = True
        feed.forget(readers)
        for post in made:
            post_delete(post=post, actor=author)
        feed.forget(readers)
    return report


def main() -> int:
    from bench.harness import environment

    sys.path.insert(0, str(ROOT))
    env = environment(database="microblog_bench", redis_db=9, CELERY_TASK_ALWAYS_EAGER="1")
    import django

    django.setup()
    report = run(env=env)
    from bench.scenarios import scale_accounts_spread
    from feeds.home_feed import home_feed_get

    report["memory"] = bytes_per_entry(home_feed_get(), scale_accounts_spread(20))
    import json

    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

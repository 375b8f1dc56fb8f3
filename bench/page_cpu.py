"""CPU per call of the page statement and the database-served timelines, in-process.

    DATABASE_URL=postgres://…/microblog_bench REDIS_URL=redis://…/9 python -m bench.page_cpu

For the reader following the most accounts: ``page_rows`` for 30 home candidates and for 20
ids, ``timeline_public`` and ``timeline_home`` 500 pages deep (``max_id``), each as the median
of 5 × 200–300 calls of ``time.process_time`` (this process only: the client's compile, plan
and parse work, not PostgreSQL's) and of the wall clock. Compare two commits on one machine.
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _measure(label: str, call, calls: int) -> None:
    for _ in range(20):
        call()
    samples = []
    for _ in range(5):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            call()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        samples.append((cpu / calls * 1000, wall / calls * 1000))
    cpu_ms = statistics.median(sample[0] for sample in samples)
    wall_ms = statistics.median(sample[1] for sample in samples)
    print(f"{label:40} cpu {cpu_ms:.3f} ms  wall {wall_ms:.3f} ms")


def main() -> int:
    from bench.__main__ import _configure_environment

    _configure_environment()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "microblog.settings")
    import django

    django.setup()
    from django.db.models import Count

    from accounts.models import User
    from feeds import selectors
    from feeds.models import Follow, Post
    from feeds.page_load import page_rows

    top = Follow.objects.values("follower_id").annotate(n=Count("id"))
    viewer = User.objects.get(pk=top.order_by("-n")[0]["follower_id"])
    home = Post.objects.filter(author_id__in=Follow.objects.filter(follower=viewer).values(
        "followee_id"
    )).order_by("-id")  # fmt: skip
    ids = list(home.values_list("id", flat=True)[:30])
    deep = home.values_list("id", flat=True)[10_000]

    _measure(
        "page_rows, 30 home candidates", lambda: page_rows(ids, viewer.pk, home_of=viewer.pk), 300
    )
    _measure("page_rows, 20 ids", lambda: page_rows(ids[:20], viewer.pk), 300)
    _measure("timeline_public", lambda: selectors.timeline_public(viewer=viewer), 200)
    page = selectors.PageRequest(max_id=deep)
    _measure(
        "timeline_home, 500 pages deep",
        lambda: selectors.timeline_home(viewer=viewer, page=page),
        200,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

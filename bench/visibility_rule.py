"""What the visibility rule costs a home-timeline page: the old rule against ``visible()``.

    DEBUG=1 [DATABASE_URL=…] .venv/bin/python -m bench.visibility_rule [username]

Interleaved, on whatever database is configured (``seed_demo`` data is enough; the reader is
``alice`` unless named). The old rule hid a suspended author's own posts only; ``visible()``
also hides reposts of them, with a join to the original and its author (issue 12).
Prints the median milliseconds per page of each.
"""

import os
import statistics
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "microblog.settings")
    import django

    django.setup()
    from django.db.models import Q

    from accounts.models import User
    from feeds.models import Follow, Post

    viewer = User.objects.get(username=sys.argv[1] if len(sys.argv) > 1 else "alice")
    followed = Follow.objects.filter(follower_id=viewer.pk).values("followee_id")
    home = Q(author_id__in=followed) | Q(author_id=viewer.pk)

    def old_rule():
        return list(Post.objects.filter(home, author__is_active=True).order_by("-id")[:20])

    def visible():
        return list(Post.objects.visible().filter(home).order_by("-id")[:20])

    ways = {"author active (before)": old_rule, "visible()": visible}
    for way in ways.values():
        for _ in range(20):
            way()
    timings: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for index in range(10):
        for name in names if index % 2 == 0 else reversed(names):
            started = time.perf_counter()
            for _ in range(50):
                ways[name]()
            timings[name].append((time.perf_counter() - started) / 50 * 1000)
    for name, values in timings.items():
        print(f"{name}: {statistics.median(values):.2f} ms a page (median of 10 x 50)")


if __name__ == "__main__":
    main()

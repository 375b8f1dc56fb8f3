"""Compare the home-timeline selector with a split-query alternative, interleaved.

    DATABASE_URL=postgres://…/microblog_scale .venv/bin/python -m bench.selector_alternatives

Needs the scale data and the bench reader ``bench_f1000`` (both made by `make bench`).
Prints the median milliseconds per page for each way of loading it.
"""

import os
import statistics
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "microblog.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "b" * 40)
    import django

    django.setup()
    from django.db.models import Q

    from accounts.models import User
    from feeds.models import Follow, Like, Post
    from feeds.selectors import timeline_home

    viewer = User.objects.get(username="bench_f1000")

    def single_join():
        return timeline_home(viewer=viewer)

    def split_queries():
        followed = Follow.objects.filter(follower_id=viewer.pk).values("followee_id")
        posts = list(
            Post.objects.filter(
                Q(author_id__in=followed) | Q(author_id=viewer.pk), author__is_active=True
            ).order_by("-id")[:20]
        )
        originals = Post.objects.in_bulk({p.repost_of_id for p in posts if p.repost_of_id})
        shown = [*posts, *originals.values()]
        replies = Post.objects.only("id", "author_id").in_bulk(
            {p.reply_to_id for p in shown if p.reply_to_id}
        )
        User.objects.in_bulk({p.author_id for p in [*shown, *replies.values()]})
        ids = [p.repost_of_id or p.pk for p in posts]
        set(Like.objects.filter(user_id=viewer.pk, post_id__in=ids).values_list("post_id"))
        set(Post.objects.filter(author_id=viewer.pk, repost_of_id__in=ids).values_list("id"))
        return posts

    ways = {"single join (current)": single_join, "split queries": split_queries}
    for way in ways.values():
        for _ in range(5):
            way()
    timings: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for index in range(6):
        for name in names if index % 2 == 0 else reversed(names):
            started = time.perf_counter()
            for _ in range(20):
                ways[name]()
            timings[name].append((time.perf_counter() - started) / 20 * 1000)
    for name, values in timings.items():
        print(f"{name:<24} {statistics.median(values):7.2f} ms per page")


if __name__ == "__main__":
    main()

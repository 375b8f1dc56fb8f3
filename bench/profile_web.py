"""Where the CPU of one warm web home page goes, in-process.

    python -m bench.profile_web        (against make bench's microblog_bench, Redis db 9)

Requests ``/`` as a reader of its own (``bench_web``, following 1,000, so a helper
profiling the API with ``bench_f1000`` at the same time does not revoke anything), through
Django's full handler, and prints the CPU (``time.process_time``) per request of the whole
request and of its pieces: the timeline selector (shared with the API), the gate, the
template render and, inside it, the session user, the unread count and the posts. Absolute
figures are this machine's; compare the lines of one run.
"""

import collections
import functools
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = 200


def _timed(totals, module, name: str, label: str) -> None:
    function = getattr(module, name)

    @functools.wraps(function)
    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            totals[label] += time.process_time() - started

    setattr(module, name, timed)


def main() -> int:
    from bench.__main__ import _configure_environment

    _configure_environment()
    os.environ.setdefault("ACCESS_ENFORCEMENT", "enforce")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import django.contrib.auth.middleware
    from django.db import connection
    from django.test import Client

    import feeds.context_processors
    import feeds.templatetags.feeds_tags
    import feeds.views
    from bench.scenarios import _reader

    totals: collections.Counter = collections.Counter()
    for module, name, label in (
        (feeds.views, "timeline_home_select", "timeline selector (shared with the API)"),
        (feeds.views, "_deliver_page", "read gate"),
        (feeds.views, "render", "template render, of which:"),
        (django.contrib.auth.middleware, "get_user", "  session user and tier"),
        (feeds.context_processors, "unread_count", "  unread-notification count"),
        (feeds.templatetags.feeds_tags, "post_parts_warm", "  posts: cached parts"),
        (feeds.templatetags.feeds_tags, "post_article", "  posts: joined (20)"),
    ):
        _timed(totals, module, name, label)
    _, _, session = _reader("bench_web", 1000)
    web = Client(HTTP_HOST="127.0.0.1")
    web.cookies["sessionid"] = session
    for _ in range(30):  # warm connections and caches
        status = web.get("/").status_code
        if status != 200:
            raise SystemExit(f"/ answered {status}")
    queries = []
    with connection.execute_wrapper(
        lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)
    ):
        web.get("/")
    totals.clear()
    started = time.process_time()
    for _ in range(REQUESTS):
        web.get("/")
    whole = (time.process_time() - started) / REQUESTS * 1000
    print(f"warm web home page, {REQUESTS} requests, {len(queries)} SQL queries each")
    print(f"{'whole request':<42} {whole:7.2f} ms CPU")
    for label, seconds in totals.items():
        print(f"{label:<42} {seconds / REQUESTS * 1000:7.2f} ms CPU")
    selector = totals["timeline selector (shared with the API)"] / REQUESTS * 1000
    print(f"{'the page own CPU (whole - selector)':<42} {whole - selector:7.2f} ms CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

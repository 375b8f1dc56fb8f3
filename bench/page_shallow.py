"""A home page's description, wide against shallow, in-process and interleaved.

    .venv/bin/python -m bench.page_shallow

Needs the scale data and the bench reader ``bench_f1000`` (both made by `make bench`).

``feeds.page_load.page_rows`` for the reader's 30 home candidates (the materialised page's
read: the home rule applied in the statement), built as a page shows 20 of them: the wide
rows (~112 columns each: four posts and their authors) against the shallow ones (the few
columns the gate and the per-viewer fields read, and PostgreSQL's digest of the rest).
Prints the median milliseconds per page of each: this process's CPU (Python), the CPU of
its PostgreSQL backend (``/proc``: the statement's execution and sending its rows), and the
wall clock.
"""

import statistics
import time


def main() -> None:
    from bench.__main__ import _configure_environment

    _configure_environment()
    import django

    django.setup()
    from django.db import connection

    from bench.harness import process_cpu_seconds
    from bench.scenarios import _reader
    from feeds.page_load import page_rows
    from feeds.selectors import PageRequest, timeline_home

    reader, _, _ = _reader("bench_f1000", 1000)
    ids = [post.pk for post in timeline_home(viewer=reader, page=PageRequest(limit=30))]

    def described(shallow: bool) -> None:
        rows = page_rows(ids, reader.pk, home_of=reader.pk, shallow=shallow)
        for post_id in ids[:20]:
            rows[post_id].post  # noqa: B018 - built, as a page shows it

    ways = {"wide": lambda: described(False), "shallow": lambda: described(True)}
    for way in ways.values():
        for _ in range(30):
            way()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in ways}
    calls = 50
    for _ in range(9):
        for name, way in ways.items():
            cpu, wall = time.process_time(), time.perf_counter()
            postgres = process_cpu_seconds(backend) or 0.0
            for _ in range(calls):
                way()
            results[name].append(
                (
                    (time.process_time() - cpu) / calls * 1000,
                    ((process_cpu_seconds(backend) or 0.0) - postgres) / calls * 1000,
                    (time.perf_counter() - wall) / calls * 1000,
                )
            )
    print(f"page_rows for {len(ids)} home candidates, median of 9 interleaved rounds × {calls}")
    for name, values in results.items():
        cpu, postgres, wall = (statistics.median(value[i] for value in values) for i in range(3))
        print(
            f"{name:<8} Python CPU {cpu:6.3f} ms   PostgreSQL CPU {postgres:6.3f} ms   "
            f"wall {wall:6.3f} ms"
        )


if __name__ == "__main__":
    main()

"""A home page's description, wide against shallow, in-process and interleaved.

    .venv/bin/python -m bench.page_shallow

Needs the scale data and the bench reader ``bench_f1000`` (both made by `make bench`).

``feeds.page_load.page_rows`` for the reader's 30 home candidates (the materialised page's
read: the home rule applied in the statement), built as a page shows 20 of them: the wide
rows (~112 columns each: four posts and their authors) against the shallow ones (the few
columns the gate and the per-viewer fields read, and PostgreSQL's digest of the rest).
Prints the median Python CPU and wall milliseconds per page of each.
"""

import statistics
import time


def main() -> None:
    from bench.__main__ import _configure_environment

    _configure_environment()
    import django

    django.setup()
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
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    for _ in range(9):
        for name, way in ways.items():
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(50):
                way()
            results[name].append(
                ((time.process_time() - cpu) / 50 * 1000, (time.perf_counter() - wall) / 50 * 1000)
            )
    print(f"page_rows for {len(ids)} home candidates, median of 9 interleaved rounds × 50")
    for name, values in results.items():
        cpu = statistics.median(value[0] for value in values)
        wall = statistics.median(value[1] for value in values)
        print(f"{name:<8} Python CPU {cpu:6.3f} ms   wall {wall:6.3f} ms")


if __name__ == "__main__":
    main()

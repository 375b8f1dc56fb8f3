"""``python manage.py trace_leak DUMP [--format …] [--json]``: name who harvested a leaked dump."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leaks.dumps import FORMATS, DumpError
from leaks.services import leak_trace


class Command(BaseCommand):
    help = (
        "Match a leaked dump of posts (Mastodon or X-style JSON, JSON lines, CSV with a text "
        "column, or one post per line) to our posts and name the readers who received them, "
        "past a significance threshold (docs/leaks.md). Recorded in the admin action log."
    )

    def add_arguments(self, parser):
        parser.add_argument("dump", help="The dump file ('-' reads standard input).")
        parser.add_argument("--format", choices=FORMATS, default="auto", dest="fmt")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print one JSON object."
        )

    def handle(self, *args, dump, fmt, as_json: bool, **options):
        try:
            if dump == "-":
                import sys

                data = sys.stdin.buffer.read()
            else:
                data = Path(dump).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {dump}: {exc.strerror or exc}.") from exc
        try:
            result = leak_trace(data=data, fmt=fmt, via="trace_leak command")
        except DumpError as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(_json_dumps(result.as_dict()))
            return
        self.stdout.write(text_report(result))


def _json_dumps(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def text_report(result) -> str:
    """The trace for a terminal."""
    lines = [
        f"Dump sha256 {result.sha256}: {result.items} items, {len(result.matched)} matched "
        f"to our posts, {len(result.unmatched)} not.",
        f"Readers in the window ({', '.join(result.window_days) or 'none'}): "
        f"{result.readers_in_window}.",
        result.verdict,
        "",
    ]
    if result.suspects:
        lines.append(
            f"{'reader':32} {'user':14} {'posts':>5} {'expected':>8} {'signif.':>7}  named"
        )
    for report in result.suspects:
        mark = "NAMED" + (" (cover)" if report.in_cover else "") if report.named else ""
        lines.append(
            f"{report.principal:32} {report.username or '-':14} {report.posts:>5} "
            f"{report.expected:>8.1f} {report.significance:>7.1f}  {mark}"
        )
        if report.named:
            lines.append(
                f"    {report.first_at} .. {report.last_at}; tokens "
                f"{[t['name'] or t['id'] for t in report.tokens] or '-'}; prefixes "
                f"{', '.join(report.ip_prefixes)}; open flags "
                f"{[f['rule'] for f in report.open_flags] or '-'}"
            )
    return "\n".join(lines)

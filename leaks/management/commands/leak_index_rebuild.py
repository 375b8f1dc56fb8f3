"""``python manage.py leak_index_rebuild``: rebuild the leak tracer's derived data from its
sources — the text fingerprint index from the posts, the reader-day roll-up from the
provenance — after a bulk load that sent no signal and fired no trigger."""

from django.core.management.base import BaseCommand

from leaks.fingerprints import fingerprints_rebuild
from leaks.rollup import reader_days_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the post text fingerprint index and the per-reader-day roll-up of delivery "
        "provenance that trace_leak reads (docs/leaks.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=["fingerprints", "rollup"], default=None)

    def handle(self, *args, only, **options):
        if only in (None, "fingerprints"):
            keys = fingerprints_rebuild()
            self.stdout.write(f"fingerprints: {keys:,} keys")
        if only in (None, "rollup"):
            days = reader_days_rebuild()
            self.stdout.write(f"roll-up: {days:,} reader-days")

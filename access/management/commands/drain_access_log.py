"""``python manage.py drain_access_log``: move the Redis access-log stream into the database."""

from django.conf import settings
from django.core.management.base import BaseCommand

from access.access_log_drain import access_log_drain


class Command(BaseCommand):
    help = (
        "Drain access-log records from the Redis stream into the database now (what the beat "
        "task does every few seconds). Runs until the stream is empty."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument(
            "--claim-idle-seconds",
            type=float,
            default=None,
            help="Take over entries another consumer left pending this long (default: setting).",
        )

    def handle(self, *args, batch_size=None, claim_idle_seconds=None, **options):
        if not settings.REDIS_URL:
            self.stdout.write("No REDIS_URL: records are written to the database directly.")
            return
        stored = access_log_drain(
            batch_size=batch_size, max_seconds=0, claim_idle_seconds=claim_idle_seconds
        )
        self.stdout.write(f"Stored {stored} access-log record(s).")

"""``python manage.py detect_bulk_access``: run the bulk-access detectors once, now."""

from django.core.management.base import BaseCommand

from access.detectors import RULE_LABELS, detect_bulk_access


class Command(BaseCommand):
    help = "Read new access-log records and raise or update scrape flags (what beat runs)."

    def handle(self, *args, **options):
        run = detect_bulk_access()
        self.stdout.write(
            f"Read {run.entries_read} access-log record(s): {run.flags_created} flag(s) "
            f"raised, {run.flags_updated} updated."
        )
        for finding in run.findings:
            label = RULE_LABELS.get(finding.rule, finding.rule)
            self.stdout.write(f"  {finding.principal:<28} {label:<36} {finding.score:5.1f}")

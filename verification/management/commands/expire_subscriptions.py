"""`python manage.py expire_subscriptions`: the beat task's work, run by hand or from cron."""

from django.core.management.base import BaseCommand

from verification.services import subscriptions_expire


class Command(BaseCommand):
    help = "End cancelled subscriptions past their period, start grace, lapse those out of grace."

    def handle(self, *args, **options):
        counts = subscriptions_expire()
        self.stdout.write(
            f"Subscriptions: {counts['ended']} ended, {counts['past_due']} past due, "
            f"{counts['lapsed']} lapsed."
        )

"""``python manage.py simulate_leak [--trials N]``: the proof that leak tracing names the
harvesters and nobody else (docs/leaks.md). Runs in one transaction, rolled back at the end."""

from django.core.management.base import BaseCommand

from leaks.simulation import simulate_leak


class Command(BaseCommand):
    help = (
        "Simulate ordinary readers and three harvesters (an API account, a farm of 8 accounts, "
        "a logged-out crawler) through the read gate, draw leaked dumps from each harvest, "
        "trace them and print how often the harvesters were named and every false accusation."
    )

    def add_arguments(self, parser):
        parser.add_argument("--trials", type=int, default=20, help="Dumps per kind (default 20).")
        parser.add_argument("--readers", type=int, default=4000, help="Ordinary accounts.")
        parser.add_argument("--seed", type=int, default=17)
        parser.add_argument("--keep", action="store_true", help="Commit the simulated data.")

    def handle(self, *args, trials, readers, seed, keep, **options):
        result = simulate_leak(
            trials=max(1, trials), seed=seed, readers=max(10, readers), keep=keep, out=self.stdout
        )
        false = [line for score in result["scores"] for line in score.false]
        self.stdout.write(f"false accusations: {len(false)}")
        for line in false:
            self.stdout.write(f"  {line}")

"""``python manage.py simulate_licensee``: a data licensee takes its quota through the licensed
lane while an AI crawler scraping the public API is refused — through the real request stack
(Django's test client: middleware, views, the read gate, the quota ledger, receipts).

It uses the current database and creates what it needs idempotently: ``simlic_*`` accounts
(one author who allows AI training, one who does not, with posts), a small "sim" data plan
(not on sale) and, each run, a fresh licence and token for ``simlic_buyer``.
"""

from django.core.management.base import BaseCommand
from django.test import Client

from accounts.ai_training import user_ai_training_set
from accounts.models import User
from feeds.models import Post
from feeds.services import post_create
from licensing.billing import licence_activate, licence_checkout_start, licence_end
from licensing.models import DataPlan, Licence
from licensing.receipts import receipt_verify
from licensing.services import licence_token_create

GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)"
BUYER_AGENT = "simlic-bulk-client/1.0"
SIM_QUOTA = 110
HOST = "localhost"  # in ALLOWED_HOSTS by default (simulate_scrapers does the same)
POSTS_EACH = 120


class Command(BaseCommand):
    help = "Show a data licensee taking its quota while a scraper is refused."

    def add_arguments(self, parser):
        parser.add_argument("--quota", type=int, default=SIM_QUOTA)

    def _user(self, username: str) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@sim.invalid"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user

    def _posts(self, author: User, label: str) -> None:
        missing = POSTS_EACH - Post.objects.filter(author=author).count()
        for n in range(max(missing, 0)):
            post_create(author=author, text=f"{label} post {n + 1} (licensing demo).")

    def handle(self, *args, quota: int, **options):
        allows, refuses = self._user("simlic_allows"), self._user("simlic_refuses")
        user_ai_training_set(user=allows, choice="allow")
        user_ai_training_set(user=refuses, choice="disallow")
        self._posts(allows, "Licensable")
        self._posts(refuses, "Reserved")
        plan, _ = DataPlan.objects.update_or_create(
            slug="sim",
            defaults={
                "name": "Simulation",
                "monthly_post_quota": quota,
                "price_minor": 0,
                "is_active": True,
                "sort_order": 99,
            },
        )
        buyer = self._user("simlic_buyer")
        for old in Licence.objects.filter(user=buyer, status=Licence.Status.ACTIVE):
            licence_end(licence=old)
        licence, _url = licence_checkout_start(user=buyer, plan=plan)
        licence_activate(licence=licence)
        plan.is_active = False  # a demo plan, never on sale
        plan.save(update_fields=["is_active"])
        _token, raw = licence_token_create(licence=licence, name="simulation")

        licensee = self._licensee(raw)
        scraper = self._scraper()
        self.stdout.write(
            f"Licensee simlic_buyer (plan quota {quota} posts/month): "
            f"{licensee['delivered']} posts in {licensee['requests']} requests, "
            f"then HTTP {licensee['last_status']}; authors delivered: "
            f"{', '.join(sorted(licensee['authors']))}; "
            f"{licensee['receipts_valid']}/{licensee['receipts']} receipts verify."
        )
        self.stdout.write(
            f"Scraper (GPTBot user agent, logged out): {scraper['delivered']} posts in "
            f"{scraper['requests']} requests, then HTTP {scraper['last_status']}; every response "
            f"said {scraper['content_usage']}."
        )

    def _licensee(self, raw: str) -> dict:
        client = Client()
        headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "HTTP_USER_AGENT": BUYER_AGENT}
        outcome = {"delivered": 0, "requests": 0, "authors": set(), "receipts": 0}
        outcome["receipts_valid"] = 0
        path = "/api/v1/licensed/statuses?limit=40"
        while True:
            response = client.get(
                path, secure=True, HTTP_HOST=HOST, REMOTE_ADDR="198.51.100.50", **headers
            )
            outcome["requests"] += 1
            outcome["last_status"] = response.status_code
            if response.status_code != 200:
                break
            statuses = response.json()
            outcome["delivered"] += len(statuses)
            outcome["authors"] |= {status["account"]["username"] for status in statuses}
            if response.get("Licence-Receipt"):
                outcome["receipts"] += 1
                outcome["receipts_valid"] += receipt_verify(response["Licence-Receipt"]).valid
            if not statuses:
                break
            path = f"/api/v1/licensed/statuses?limit=40&max_id={statuses[-1]['id']}"
        return outcome

    def _scraper(self) -> dict:
        client = Client()
        outcome = {"delivered": 0, "requests": 0, "content_usage": set()}
        path = "/api/v1/timelines/public?limit=40"
        for _ in range(20):
            response = client.get(
                path,
                secure=True,
                HTTP_HOST=HOST,
                REMOTE_ADDR="203.0.113.99",
                HTTP_USER_AGENT=GPTBOT,
            )
            outcome["requests"] += 1
            outcome["last_status"] = response.status_code
            if response.get("Content-Usage"):
                outcome["content_usage"].add(response["Content-Usage"])
            if response.status_code != 200 or not response.json():
                break
            statuses = response.json()
            outcome["delivered"] += len(statuses)
            path = f"/api/v1/timelines/public?limit=40&max_id={statuses[-1]['id']}"
        outcome["content_usage"] = " / ".join(sorted(outcome["content_usage"])) or "nothing"
        return outcome

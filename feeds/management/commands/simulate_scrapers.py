"""``python manage.py simulate_scrapers``: drive scraper-like and normal traffic through the real
request stack (Django's test client: middleware, views, the read gate and its access log),
then run the detectors and print which principals were flagged by which rule.

It uses the current database and creates what it needs idempotently: ``sim_*`` accounts, one
API token, and ``sim_author``'s posts when there are too few public posts to page through.
"""

import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Max
from django.test import Client

from access import detectors
from access.access_log_drain import access_log_drain
from access.models import AccessLogEntry, Flag
from accounts.models import ApiToken, User
from accounts.services import token_create, token_revoke
from feeds.models import Post
from feeds.services import post_create

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)
GPTBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)
MIN_POSTS = 700  # enough for the paginator to run past the "new" tier's 500 posts
# The timeline's "Load more" link (other links on the page carry ?max_id in a next= too).
NEXT_PAGE = re.compile(r'class="load-more"><a [^>]*href="\?max_id=(\d+)"')
FARM_SIZE = 8
TOKEN_IPS = 8


@dataclass
class Scenario:
    """One simulated reader: who it is, what it should look like, and the principals it used."""

    label: str
    scraper: bool
    principals: set[str] = field(default_factory=set)
    user_ids: set[int] = field(default_factory=set)
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class Simulation:
    """The traffic: each method is one reader, sending requests like the real thing would."""

    def __init__(self, stdout):
        self.stdout = stdout
        self.host = next(
            (h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")),
            "localhost",
        ).strip("[]")
        if ":" in self.host:
            self.host = "localhost"
        self.scenarios: list[Scenario] = []

    # --- set-up ---------------------------------------------------------------------------------

    def user(self, username: str) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@sim.invalid"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user

    def posts_ensure(self) -> list[int]:
        """Public posts to read, newest first: at least MIN_POSTS, written by sim_author."""
        missing = MIN_POSTS - Post.objects.filter(repost_of__isnull=True).count()
        if missing > 0:
            author = self.user("sim_author")
            for n in range(missing):
                post_create(author=author, text=f"Simulated post {n + 1} for the scraper demo.")
        return list(
            Post.objects.filter(repost_of__isnull=True).order_by("-id").values_list("id", flat=True)
        )

    # --- requests -------------------------------------------------------------------------------

    def get(self, client: Client, scenario: Scenario, path: str, *, ip: str, agent: str, **extra):
        response = client.get(
            path, secure=True, HTTP_HOST=self.host, REMOTE_ADDR=ip, HTTP_USER_AGENT=agent, **extra
        )
        scenario.requests += 1
        scenario.statuses[response.status_code] = scenario.statuses.get(response.status_code, 0) + 1
        return response

    def session(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    def add(self, scenario: Scenario) -> Scenario:
        self.scenarios.append(scenario)
        return scenario

    def normal_reader(self, post_ids: list[int]) -> None:
        user = self.user("sim_reader")
        scenario = self.add(
            Scenario("normal reader (logged in)", False, {f"user:{user.pk}"}, {user.pk})
        )
        client, ip = self.session(user), "192.0.2.10"
        response = self.get(client, scenario, "/public/", ip=ip, agent=FIREFOX)
        match = NEXT_PAGE.search(response.content.decode())
        if match:
            self.get(client, scenario, f"/public/?max_id={match.group(1)}", ip=ip, agent=FIREFOX)
        for post_id in (post_ids[3], post_ids[11], post_ids[40]):
            self.get(client, scenario, f"/posts/{post_id}/", ip=ip, agent=FIREFOX)
        self.get(client, scenario, "/@sim_author/", ip=ip, agent=FIREFOX)

    def anonymous_reader(self, post_ids: list[int]) -> None:
        ip = "192.0.2.20"
        scenario = self.add(Scenario("normal reader (logged out)", False, {f"ip:{ip}/32"}))
        client = Client()
        self.get(client, scenario, "/public/", ip=ip, agent=CHROME)
        self.get(client, scenario, f"/posts/{post_ids[5]}/", ip=ip, agent=CHROME)

    def paginator(self) -> None:
        user = self.user("sim_paginator")
        scenario = self.add(Scenario("aggressive paginator", True, {f"user:{user.pk}"}, {user.pk}))
        client, ip = self.session(user), "192.0.2.30"
        path = "/public/"
        last_max_id = None
        for _ in range(40):  # 40 pages of 20: past the budget, and on after the 429s
            response = self.get(client, scenario, path, ip=ip, agent=CHROME)
            match = NEXT_PAGE.search(response.content.decode())
            if match:
                last_max_id = match.group(1)
            if last_max_id is None:
                break
            path = f"/public/?max_id={last_max_id}"

    def enumerator(self, post_ids: list[int]) -> None:
        user = self.user("sim_enumerator")
        scenario = self.add(Scenario("id enumerator", True, {f"user:{user.pk}"}, {user.pk}))
        client, ip = self.session(user), "192.0.2.40"
        for post_id in sorted(post_ids[100:140]):
            self.get(client, scenario, f"/posts/{post_id}/", ip=ip, agent=CHROME)

    def farm(self) -> None:
        users = [self.user(f"sim_farm_{n:02d}") for n in range(1, FARM_SIZE + 1)]
        scenario = self.add(
            Scenario(
                f"farm of {FARM_SIZE} new accounts behind one IP /24",
                True,
                {"net:198.51.100.0/24"} | {f"user:{user.pk}" for user in users},
                {user.pk for user in users},
            )
        )
        for n, user in enumerate(users):
            client, ip = self.session(user), f"198.51.100.{11 + n}"
            path = "/public/"
            for _ in range(3):
                response = self.get(client, scenario, path, ip=ip, agent=FIREFOX)
                match = NEXT_PAGE.search(response.content.decode())
                if not match:
                    break
                path = f"/public/?max_id={match.group(1)}"

    def shared_token(self) -> None:
        user = self.user("sim_token_owner")
        for old in ApiToken.objects.filter(user=user, revoked_at__isnull=True):
            token_revoke(token=old)  # the raw secret is shown once: start a fresh token
        token, raw = token_create(user=user, name="sim shared token", scopes=["read"])
        scenario = self.add(
            Scenario("one token shared across many IPs", True, {f"token:{token.pk}"}, {user.pk})
        )
        previous = (
            ApiToken.objects.filter(user=user).exclude(pk=token.pk).values_list("pk", flat=True)
        )
        scenario.principals |= {f"token:{pk}" for pk in previous}
        for n in range(TOKEN_IPS):
            ip = f"{100 + n * 7}.{20 + n}.{3 * n}.{10 + n}"
            self.get(
                Client(),
                scenario,
                "/api/v1/timelines/public?limit=20",
                ip=ip,
                agent="Mastodon.py/1.8.1",
                HTTP_AUTHORIZATION=f"Bearer {raw}",
            )

    def ai_crawler(self, post_ids: list[int]) -> None:
        ip = "20.171.206.5"
        scenario = self.add(Scenario("AI crawler (GPTBot), logged out", True, {f"ip:{ip}/32"}))
        client = Client()
        self.get(client, scenario, "/public/", ip=ip, agent=GPTBOT)
        self.get(client, scenario, "/@sim_author/", ip=ip, agent=GPTBOT)
        for post_id in post_ids[200:230:3]:
            self.get(client, scenario, f"/posts/{post_id}/", ip=ip, agent=GPTBOT)

    def run(self) -> None:
        post_ids = self.posts_ensure()
        self.normal_reader(post_ids)
        self.anonymous_reader(post_ids)
        self.paginator()
        self.enumerator(post_ids)
        self.farm()
        self.shared_token()
        self.ai_crawler(post_ids)


def access_log_drain_if_present() -> int | None:
    """Move records still in the Redis stream into the database, when that write path exists."""
    if not settings.REDIS_URL:
        return None
    return access_log_drain()


def flagged_rules(scenario: Scenario, *, since_id: int) -> dict[str, list[str]]:
    """Open flags touching the scenario's principals or accounts: principal -> rules."""
    flags = Flag.objects.filter(status=Flag.OPEN, last_seen__isnull=False)
    found: dict[str, list[str]] = {}
    for flag in flags.order_by("principal", "rule"):
        if flag.principal in scenario.principals or (flag.user_id in scenario.user_ids):
            found.setdefault(flag.principal, []).append(flag.rule)
    return found


class Command(BaseCommand):
    help = (
        "Simulate a normal reader and several scrapers through the real request stack, run the "
        "detectors and print which principals were flagged by which rule."
    )

    def handle(self, *args, **options):
        start_id = AccessLogEntry.objects.aggregate(last=Max("id"))["last"] or 0
        simulation = Simulation(self.stdout)
        # Every refusal would print "Too Many Requests: …"; the table below says it better.
        request_logger = logging.getLogger("django.request")
        level = request_logger.level
        request_logger.setLevel(logging.ERROR)
        try:
            simulation.run()
        finally:
            request_logger.setLevel(level)
        drained = access_log_drain_if_present()
        if drained:
            self.stdout.write(f"Drained {drained} access-log record(s) from Redis.")
        written = AccessLogEntry.objects.filter(id__gt=start_id).count()
        requests = sum(scenario.requests for scenario in simulation.scenarios)
        self.stdout.write(f"Sent {requests} request(s); {written} access-log record(s) written.")
        if not written:
            self.stderr.write(
                "No access-log records were written: the gate's write path is missing, so "
                "nothing can be detected."
            )
        run = detectors.detect_bulk_access()
        self.stdout.write(
            f"Detectors read {run.entries_read} record(s): {run.flags_created} flag(s) raised, "
            f"{run.flags_updated} updated.\n"
        )
        self.table(simulation.scenarios, since_id=start_id)

    def table(self, scenarios: list[Scenario], *, since_id: int) -> None:
        header = f"{'Scenario':<46} {'Expect':<8} {'Result':<12} Principal: rules"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for scenario in scenarios:
            found = flagged_rules(scenario, since_id=since_id)
            expect = "flagged" if scenario.scraper else "clean"
            result = "flagged" if found else "not flagged"
            ok = "" if bool(found) == scenario.scraper else "  <-- unexpected"
            detail = "; ".join(f"{who}: {', '.join(rules)}" for who, rules in found.items()) or "-"
            statuses = ", ".join(f"{code}×{n}" for code, n in sorted(scenario.statuses.items()))
            self.stdout.write(f"{scenario.label:<46} {expect:<8} {result:<12} {detail}{ok}")
            self.stdout.write(
                f"{'':<46} {'':<8} {'':<12} ({scenario.requests} requests: {statuses})"
            )

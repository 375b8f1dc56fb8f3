"""The proof behind ``simulate_leak``: a population of ordinary readers and three kinds of
harvester read through the real read gate (which writes the access log and the provenance),
then dumps drawn from each harvest are traced and the answers scored.

Ordinary readers (as ``simulate_scrapers`` models them): accounts that read their home
timeline (the newest posts of the people they follow, one to three pages), the public
timeline's first page, a followed author's profile and a few popular posts, on the web (pages
of 20) or through an API token (pages of 40); logged-out readers from their own networks who
read the public timeline and a few popular posts. Harvesters: one account paging the API
through the archive up to its budget; a farm of 8 new accounts, each from its own /24, each
taking a slice of the archive well under its budget; a logged-out crawler rotating addresses
inside one /24, 100 posts (the anonymous budget) per address.

Everything runs in one transaction on the database ledger, rolled back at the end unless
``keep`` is set, so the simulation leaves the database as it found it.
"""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.test import RequestFactory, override_settings
from django.utils import timezone

from access.gate import read_gate
from accounts.models import ApiToken, User
from feeds.models import Follow, Post

from .fingerprints import fingerprints_write
from .services import leak_trace

AUTHORS = 1000
AUTHOR_ZIPF = 0.6  # the top author writes about 3 % of the posts
POSTS = 10_000
FARM_SIZE = 8
FARM_SLICE = 120
HARVEST = 1000
CRAWLER_ADDRESSES = 10
ANONYMOUS_BUDGET = 100
DUMP_SIZE = 50
SYLLABLES = [a + b for a in "bcdfghjklmnprstvwz" for b in "aeiou"] + ["th", "sh", "qu"]


class _Rollback(Exception):
    pass


@dataclass
class DumpScore:
    """How the traces of one kind of dump went over the trials."""

    kind: str
    trials: int = 0
    true_named: int = 0  # trials in which at least one true harvester was named
    farm_due: int = 0  # farm accounts with >= 5 of a dump's posts, over the trials
    farm_named: int = 0  # ... of which named
    false: list[str] = field(default_factory=list)
    innocent_max: float = 0.0  # the highest significance any ordinary reader reached
    farm_due_min: float | None = None  # the lowest significance of a farm account due

    def line(self) -> str:
        rate = 100.0 * self.true_named / self.trials if self.trials else 0.0
        text = f"{self.kind:34} trials {self.trials:4}  true harvester named {rate:6.1f} %"
        if self.farm_due:
            text += f"  farm accounts (>=5 posts) named {self.farm_named}/{self.farm_due}"
        text += f"  false accusations {len(self.false)}"
        text += f"\n{'':34} highest innocent significance {self.innocent_max:.1f}"
        if self.farm_due_min is not None:
            text += f", lowest due farm account's {self.farm_due_min:.1f}"
        return text


@dataclass
class Population:
    """Who is who in the simulation, to score the traces."""

    harvester: str = ""
    farm: list[str] = field(default_factory=list)
    crawler: str = ""
    harvests: dict[str, list[int]] = field(default_factory=dict)  # principal -> post ids
    texts: dict[int, str] = field(default_factory=dict)
    reach: Counter = field(default_factory=Counter)
    gate_calls: int = 0


class LeakSimulation:
    """Build the population, run its reading day, draw and trace the dumps."""

    def __init__(self, *, seed: int = 17, readers: int = 4000, anonymous: int = 300, out=None):
        self.rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
        self.readers = readers
        self.anonymous = anonymous
        self.factory = RequestFactory()
        self.out = out
        self.pop = Population()
        self.words = [self._word() for _ in range(3000)]

    def say(self, text: str) -> None:
        if self.out is not None:
            self.out.write(text)

    # --- the world -----------------------------------------------------------------------

    def _word(self) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(1, 4)))

    def _sentence(self) -> str:
        words = [self.rng.choice(self.words) for _ in range(self.rng.randint(8, 30))]
        words[0] = words[0].title()
        text = " ".join(words)
        if self.rng.random() < 0.3:
            text += self.rng.choice([" !", "?", " 🎉", " — really.", " (via @friend)"])
        return text + "."

    def _users(self, prefix: str, count: int, *, age_days: int) -> list[User]:
        joined = timezone.now() - timedelta(days=age_days)
        User.objects.bulk_create(
            [
                User(username=f"{prefix}{n}", email=f"{prefix}{n}@sim.invalid", date_joined=joined)
                for n in range(count)
            ]
        )
        return list(User.objects.filter(username__startswith=prefix).order_by("id"))

    def build(self) -> None:
        """Authors and their archive (newest first), ordinary readers and who they follow."""
        tag = f"leak{self.rng.randrange(10**6)}_"
        self.tag = tag
        self.authors = self._users(f"{tag}author", AUTHORS, age_days=400)
        # Zipf-like author popularity: a few authors have most followers and write most.
        weights = [1.0 / (rank + 1) ** AUTHOR_ZIPF for rank in range(AUTHORS)]
        start = timezone.now() - timedelta(days=30)
        step = timedelta(days=30) / POSTS
        posts = [
            Post(
                author=self.rng.choices(self.authors, weights)[0],
                text=self._sentence(),
                created_at=start + step * n,
            )
            for n in range(POSTS)
        ]
        Post.objects.bulk_create(posts, batch_size=2000)
        rows = Post.objects.filter(author__in=self.authors).order_by("-id")
        fingerprints_write(posts=rows.values_list("id", "text"))  # bulk_create sends no signal
        self.archive = list(rows.values_list("id", "author_id"))  # newest first
        self.pop.texts = dict(rows.values_list("id", "text"))
        self.by_author: dict[int, list[int]] = {}
        for pid, author_id in self.archive:
            self.by_author.setdefault(author_id, []).append(pid)
        # Old posts that are still read: a Zipf popularity over the archive.
        self.popular = self.rng.sample([pid for pid, _ in self.archive], 400)
        self.popular_weights = [1.0 / (rank + 1) for rank in range(len(self.popular))]
        self.ordinary = self._users(f"{tag}reader", self.readers, age_days=200)
        follows = []
        self.follows: dict[int, list[int]] = {}
        for reader in self.ordinary:
            count = self.rng.randint(3, 25)
            chosen = {a.pk for a in self.rng.choices(self.authors, weights, k=count)}
            self.follows[reader.pk] = sorted(chosen)
            follows.extend(Follow(follower=reader, followee_id=a) for a in chosen)
        Follow.objects.bulk_create(follows, ignore_conflicts=True)
        self.say(
            f"world: {AUTHORS} authors, {POSTS:,} posts, {len(self.ordinary):,} ordinary accounts, "
            f"{self.anonymous} logged-out readers, {len(follows):,} follows\n"
        )

    # --- reading ---------------------------------------------------------------------------

    def _request(self, user, ip: str, token: ApiToken | None = None, path: str = "/"):
        request = self.factory.get(path, REMOTE_ADDR=ip, HTTP_USER_AGENT="Mozilla/5.0 sim")
        request.user = user if user is not None else AnonymousUser()
        if token is not None:
            request.auth = token
        return request

    def _read(self, user, ip: str, ids: list[int], *, page: int, token=None) -> list[int]:
        """Read ``ids`` in pages through the gate; returns what was delivered."""
        delivered: list[int] = []
        for start in range(0, len(ids), page):
            grant = read_gate(
                request=self._request(user, ip, token), post_ids=ids[start : start + page]
            )
            self.pop.gate_calls += 1
            delivered.extend(grant.delivered_ids)
            if grant.refused_count:
                break
        return delivered

    def _ip(self, network: int, host: int) -> str:
        return f"10.{network // 250}.{network % 250}.{host}"

    def ordinary_day(self) -> None:
        """Every ordinary reader's day: home, public, a profile, popular posts."""
        newest = [pid for pid, _ in self.archive[:20]]
        tokens = {}
        api_readers = [r for r in self.ordinary if self.rng.random() < 0.3]
        for reader in api_readers:
            tokens[reader.pk] = ApiToken.objects.create(
                user=reader, name="phone app", token_hash=f"{self.tag}{reader.pk}", scopes="read"
            )
        for number, reader in enumerate(self.ordinary):
            followed = self.follows[reader.pk]
            home = sorted(
                (pid for a in followed for pid in self.by_author.get(a, [])[:40]), reverse=True
            )[: 20 * self.rng.choice([1, 1, 2, 3])]
            profile = self.by_author.get(self.rng.choice(followed), [])[:20]
            popular = self.rng.choices(self.popular, self.popular_weights, k=5)
            ids = list(dict.fromkeys(home + newest + profile + popular))
            token = tokens.get(reader.pk)
            ip = self._ip(100 + number % 900, 10 + number % 200)
            for pid in self._read(reader, ip, ids, page=40 if token else 20, token=token):
                self.pop.reach[pid] += 1
        for number in range(self.anonymous):
            popular = self.rng.choices(self.popular, self.popular_weights, k=3)
            ids = list(dict.fromkeys(newest + popular))
            for pid in self._read(None, self._ip(1000 + number, 7), ids, page=20):
                self.pop.reach[pid] += 1

    def harvest(self) -> None:
        """The three harvesters take their slices of the archive."""
        archive = [pid for pid, _ in self.archive]
        # One unverified account with a token, paging the API deep in the archive.
        (harvester,) = self._users(f"{self.tag}harvester", 1, age_days=120)
        token = ApiToken.objects.create(
            user=harvester, name="bulk export", token_hash=f"{self.tag}h", scopes="read"
        )
        got = self._read(
            harvester, "10.200.1.5", archive[2000 : 2000 + HARVEST], page=40, token=token
        )
        self.pop.harvester = f"user:{harvester.pk}"
        self.pop.harvests[self.pop.harvester] = got
        # A farm of new accounts, one /24 each, each a slice far under its budget.
        farm = self._users(f"{self.tag}farm", FARM_SIZE, age_days=3)
        for n, account in enumerate(farm):
            start = 4000 + n * FARM_SLICE
            ip = f"10.{210 + n}.{n}.9"
            got = self._read(account, ip, archive[start : start + FARM_SLICE], page=40)
            self.pop.farm.append(f"user:{account.pk}")
            self.pop.harvests[f"user:{account.pk}"] = got
        # A logged-out crawler: 100 posts per address, ten addresses in one /24.
        crawled: list[int] = []
        for n in range(CRAWLER_ADDRESSES):
            start = 6000 + n * ANONYMOUS_BUDGET
            ids = archive[start : start + ANONYMOUS_BUDGET]
            crawled += self._read(None, f"10.240.7.{20 + n}", ids, page=20)
        self.pop.crawler = "ip:10.240.7.0/24"
        self.pop.harvests[self.pop.crawler] = crawled
        for ids in self.pop.harvests.values():
            for pid in ids:
                self.pop.reach[pid] += 1

    # --- dumps -----------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).casefold()
        return " ".join(text.split())

    def _edit(self, text: str, share: float = 0.10) -> str:
        chars = list(text)
        for _ in range(max(1, round(share * len(chars)))):
            at = self.rng.randrange(len(chars))
            kind = self.rng.random()
            if kind < 0.5:
                chars[at] = self.rng.choice("abcdefghijklmnopqrstuvwxyz ")
            elif kind < 0.75 and len(chars) > 1:
                del chars[at]
            else:
                chars.insert(at, self.rng.choice("abcdefghijklmnopqrstuvwxyz"))
        return "".join(chars)

    def _dump(self, ids: list[int], *, edit: bool) -> tuple[str, list[int]]:
        chosen = self.rng.sample(ids, min(DUMP_SIZE, len(ids)))
        self.rng.shuffle(chosen)
        lines = [self._clean(self.pop.texts[pid]) for pid in chosen]
        if edit:
            lines = [self._edit(line) for line in lines]
        return "\n".join(lines) + "\n", chosen

    def trials(self, count: int) -> list[DumpScore]:
        """``count`` trials of each kind of dump; every trace scored."""
        pop = self.pop
        farm_ids = [pid for account in pop.farm for pid in pop.harvests[account]]
        most_read = [pid for pid, _ in pop.reach.most_common(DUMP_SIZE)]
        innocent = set(pop.harvests)  # anyone else named is a false accusation
        kinds = [
            ("(a) harvester, cleaned", pop.harvests[pop.harvester], False, [pop.harvester]),
            ("(a) farm, cleaned", farm_ids, False, pop.farm),
            ("(b) harvester, 10 % edited", pop.harvests[pop.harvester], True, [pop.harvester]),
            ("(b) farm, 10 % edited", farm_ids, True, pop.farm),
            ("(c) 50 most-read posts", most_read, False, []),
            ("(d) logged-out crawler", pop.harvests[pop.crawler], False, [pop.crawler]),
        ]
        scores = []
        for kind, ids, edit, guilty in kinds:
            score = DumpScore(kind)
            for trial in range(count):
                text, chosen = self._dump(ids, edit=edit)
                result = leak_trace(data=text, fmt="text", via="simulate_leak")
                named = {r.principal for r in result.named}
                score.trials += 1
                if guilty and named & set(guilty):
                    score.true_named += 1
                for principal in sorted(named - innocent):
                    report = next(r for r in result.named if r.principal == principal)
                    score.false.append(
                        f"{kind} trial {trial + 1}: {principal} ({report.username}) "
                        f"{report.posts} posts, significance {report.significance}"
                    )
                if kind.endswith("most-read posts"):
                    for principal in sorted(named):
                        score.false.append(f"{kind} trial {trial + 1}: named {principal}")
                significance = {r.principal: r.significance for r in result.suspects}
                for principal, value in significance.items():
                    if principal not in innocent:
                        score.innocent_max = max(score.innocent_max, value)
                if guilty is pop.farm:
                    chosen_set = set(chosen)
                    for account in pop.farm:
                        if len(chosen_set & set(pop.harvests[account])) >= 5:
                            score.farm_due += 1
                            score.farm_named += account in named
                            value = significance.get(account, 0.0)
                            if score.farm_due_min is None or value < score.farm_due_min:
                                score.farm_due_min = value
            scores.append(score)
            self.say(score.line() + "\n")
        return scores


def simulate_leak(
    *, trials: int, seed: int = 17, readers: int = 4000, keep: bool = False, out=None
):
    """Run the whole simulation; returns the scores (and the population, for tests)."""
    sim = LeakSimulation(seed=seed, readers=readers, out=out)
    result: dict = {}
    try:
        with (
            override_settings(ACCESS_LEDGER="database", ACCESS_ENFORCEMENT="enforce"),
            transaction.atomic(),
        ):
            sim.build()
            sim.ordinary_day()
            sim.harvest()
            sim.say(f"reading done: {sim.pop.gate_calls:,} passes through the gate\n")
            result["scores"] = sim.trials(trials)
            result["population"] = sim.pop
            if not keep:
                raise _Rollback
    except _Rollback:
        pass
    return result

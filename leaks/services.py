"""Tracing a leaked dump: match its posts, find who received them, name the harvesters.

``leak_trace`` is the one entry point (the ``trace_leak`` command and the reviewer page both
call it); every trace is written to the admin action log with the dump's SHA-256 and who was
named. ``leak_flag_open`` turns a named reader into a review flag, so a reviewer acts on it
(restrict, suspend, revoke tokens, block a prefix) exactly as on a detector's flag.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from access.detectors import LEAK_TRACE
from access.models import Flag
from access.selectors_provenance import deliveries_of_posts
from accounts.models import ApiToken, User
from core.audit import admin_action_log
from core.models import AdminActionLog
from feeds.models import Post

from .dumps import DumpItem, dump_parse
from .fingerprints import candidates_find
from .matching import Match, Miss, PostMatcher, html_strip, text_normalize
from .selectors import (
    followers_counted,
    follows_among,
    records_on_routes,
    reposters_of,
    window_volumes,
)
from .significance import (
    MIN_POSTS,
    NAMING_THRESHOLD,
    Relations,
    Suspect,
    cover_greedy,
    suspects_name,
)

TRACE_ACTION = AdminActionLog.Action.LEAK_TRACE
FLAG_ACTION = AdminActionLog.Action.LEAK_FLAG_OPEN
FLAG_RULE = LEAK_TRACE
SHOWN_SUSPECTS = 20
SHOWN_POST_IDS = 200
# Timelines made of the posts of the people the reader follows (and their reposts): a post
# delivered there was delivered to a follower, whatever the follow table says today.
HOME_ROUTES = ("feeds:home", "api:timeline_home")


@dataclass
class ReaderReport:
    """One reader who received matched posts, with the evidence a reviewer needs."""

    principal: str
    username: str | None
    user_id: int | None
    posts: int
    groups: int  # evidence groups (author, order of magnitude of readers) among the posts
    post_ids: list[int]
    volume: int
    expected: float
    significance: float
    named: bool
    round: int = 1  # 1: on the whole dump; k > 1: on the posts no reader named before covered
    residual_posts: int = 0  # how many of its posts were under test in that round
    related_groups: int = 0  # groups tested whose author (or a reposter) it follows
    in_cover: bool = False
    first_at: str = ""
    last_at: str = ""
    days: list[str] = field(default_factory=list)
    tokens: list[dict] = field(default_factory=list)
    ip_prefixes: list[str] = field(default_factory=list)
    client_ips: list[str] = field(default_factory=list)
    open_flags: list[dict] = field(default_factory=list)


@dataclass
class TraceResult:
    """What a trace found: the matches, the readers, who is named and why (or why not)."""

    sha256: str
    items: int
    matched: list[dict]
    unmatched: list[dict]
    readers_in_window: int
    window_days: list[str]
    verdict: str
    named: list[ReaderReport]
    cover: list[str]
    suspects: list[ReaderReport]
    threshold: float = NAMING_THRESHOLD
    min_posts: int = MIN_POSTS

    def as_dict(self) -> dict:
        return asdict(self)


def items_match(
    items: list[DumpItem], *, text_index: bool | None = None
) -> tuple[list[Match], list[Miss]]:
    """Match every item: first against the posts the dump names by id or URL (cheap), then
    whatever is left by its text — against the candidates the fingerprint index finds
    (``leaks/fingerprints.py``), or against every post. ``text_index`` None: the index on
    PostgreSQL, every post elsewhere (SQLite, the demo, whose bulk-loaded posts may have none)."""
    claimed = set()
    for item in items:
        for value in (item.post_id, item.url.rstrip("/").rsplit("/", 1)[-1] if item.url else ""):
            if value.isdigit():
                claimed.add(int(value))
    first = PostMatcher(_post_texts(ids=claimed)) if claimed else None
    matches: list[Match] = []
    pending: list[tuple[int, DumpItem]] = []
    for index, item in enumerate(items):
        found = first.match(index, item) if first is not None else None
        if isinstance(found, Match) and found.method in ("id", "url"):
            matches.append(found)
        else:
            pending.append((index, item))
    misses: list[Miss] = []
    if pending:
        if text_index is None:
            text_index = connections[Post.objects.db].vendor == "postgresql"
        misses = _text_match(pending, matches, text_index=text_index)
    matches.sort(key=lambda m: m.item_index)
    return matches, misses


def _text_match(
    pending: list[tuple[int, DumpItem]], matches: list[Match], *, text_index: bool
) -> list[Miss]:
    misses: list[Miss] = []
    if not text_index:
        everything = PostMatcher(_post_texts())
        for index, item in pending:
            found = everything.match(index, item)
            (matches if isinstance(found, Match) else misses).append(found)
        return misses
    normals = [text_normalize(html_strip(item.text)) if item.text else "" for _, item in pending]
    candidates, crowded = candidates_find(normals)
    matcher = PostMatcher(_post_texts(ids={pid for found in candidates for pid in found}))
    for (index, item), is_crowded in zip(pending, crowded, strict=True):
        found = matcher.match(index, item)
        if isinstance(found, Match):
            matches.append(found)
        elif is_crowded:
            misses.append(Miss(index, "ambiguous: many posts have this text"))
        else:
            misses.append(found)
    return misses


def _post_texts(ids: set[int] | None = None):
    posts = Post.objects.filter(repost_of__isnull=True)
    if ids is not None:
        posts = posts.filter(pk__in=ids)
    return posts.values_list("id", "text").iterator(chunk_size=5000)


def leak_trace(
    *, data: bytes | str, fmt: str = "auto", actor: User | None = None, via: str = "command"
) -> TraceResult:
    """Trace one dump (raises ``dumps.DumpError`` for one that cannot be read) and record it."""
    raw = data.encode() if isinstance(data, str) else data
    sha256 = hashlib.sha256(raw).hexdigest()
    items = dump_parse(raw, fmt=fmt)
    matches, misses = items_match(items)
    post_ids = sorted({m.post_id for m in matches})
    deliveries = deliveries_of_posts(post_ids=post_ids)
    received: dict[str, set[int]] = defaultdict(set)
    reach_sets: dict[int, set[str]] = defaultdict(set)  # post -> readers who received it
    by_reader = defaultdict(list)
    for delivery in deliveries:
        received[delivery.reader].update(delivery.post_ids)
        by_reader[delivery.reader].append(delivery)
        for pid in delivery.post_ids:
            reach_sets[pid].add(delivery.reader)
    days = sorted({d.day for d in deliveries})
    window = window_volumes(
        days=days, readers={unit for unit, got in received.items() if len(got) >= MIN_POSTS}
    )
    readers = window.readers
    groups = _evidence_groups(reach_sets)
    suspects = suspects_name(
        received=received,
        volumes=window.volumes,
        groups=groups,
        readers=readers,
        total_volume=window.total,
        relations=_relations(groups, deliveries=deliveries),
    )
    cover = {s.unit for s in cover_greedy(suspects)}
    shown = [s for s in suspects if s.named] + [s for s in suspects if not s.named]
    reports = _reports(shown[: max(SHOWN_SUSPECTS, sum(s.named for s in suspects))], by_reader)
    for report in reports:
        report.in_cover = report.principal in cover
    named = [r for r in reports if r.named]
    named.sort(key=lambda r: (not r.in_cover, -r.significance))
    result = TraceResult(
        sha256=sha256,
        items=len(items),
        matched=[asdict(m) for m in matches],
        unmatched=[asdict(m) for m in misses],
        readers_in_window=readers,
        window_days=[day.isoformat() for day in days],
        verdict=_verdict(matches, deliveries, suspects, named),
        named=named,
        cover=[r.principal for r in named if r.in_cover],
        suspects=reports,
    )
    _record(result, actor=actor, via=via)
    return result


def _evidence_groups(reach: dict[int, set[str]]) -> dict[int, tuple]:
    """Each matched post's evidence group: its author, and how widely it was delivered (the
    order of magnitude of its readers). Ordinary readers receive an author's posts together (a
    follower's home timeline, a visit to the profile), so posts of one author delivered about
    as widely are one piece of evidence, not many; a popular post does not mask the rare ones
    of the same author."""
    authors = dict(Post.objects.filter(pk__in=list(reach)).values_list("id", "author_id"))
    return {
        pid: (authors.get(pid, f"post:{pid}"), int(math.log10(max(len(readers), 1))))
        for pid, readers in reach.items()
    }


def _relations(groups: dict[int, tuple], *, deliveries) -> Relations:
    """The strata of each evidence group: the readers related to its author — who follow it,
    or an account that reposted one of its posts (both as the follow table is now), or who
    received one of its posts on their home timeline (a follower then, even one who has
    unfollowed since) — and how many readers that stratum holds: every follower of those
    accounts, reading in the window or not, so the non-followers' stratum is if anything too
    small (which only spares them). Logged-out readers follow nobody."""
    reposters = reposters_of(post_ids=list(groups))
    followees_of: dict[tuple, set[int]] = defaultdict(set)
    for pid, key in groups.items():
        if isinstance(key[0], int):
            followees_of[key].add(key[0])
        followees_of[key] |= reposters.get(pid, set())
    followees = set().union(*followees_of.values()) if followees_of else set()
    receivers = {d.user_id for d in deliveries if d.user_id is not None}
    following = follows_among(followees=followees, followers=receivers) if followees else {}
    counted = followers_counted(followees=followees) if followees else {}
    related: dict[tuple, set[str]] = defaultdict(set)
    sizes: dict[tuple, int] = defaultdict(int)
    for key, accounts in followees_of.items():
        for followee in accounts:
            related[key].update(f"user:{user_id}" for user_id in following.get(followee, ()))
            sizes[key] += counted.get(followee, 0)  # a sum: a follower of two counts twice
    on_home = records_on_routes(
        record_ids=[d.record_id for d in deliveries if d.record_id], routes=HOME_ROUTES
    )
    for delivery in deliveries:
        if delivery.record_id in on_home:
            for pid in delivery.post_ids:
                if pid in groups and delivery.reader not in related[groups[pid]]:
                    related[groups[pid]].add(delivery.reader)
                    sizes[groups[pid]] += 1  # an unfollower since: one more in the stratum
    return Relations(
        related={key: frozenset(units) for key, units in related.items()},
        readers=dict(sizes),
    )


def _verdict(matches, deliveries, suspects: list[Suspect], named) -> str:
    if named:
        return f"Named {len(named)} reader(s) past the threshold."
    why = "no confident match: "
    if not matches:
        return why + "no item of the dump matched one of our posts."
    if not deliveries:
        return why + "the matched posts were never delivered, or their provenance was purged."
    if not suspects:
        return why + f"no reader received {MIN_POSTS} or more of the matched posts."
    best = suspects[0]
    return why + (
        f"the likeliest reader ({best.unit}) received {len(best.received)} of the posts, from "
        f"{best.groups} authors, where an ordinary reader with the same reading volume "
        f"would get posts from {best.expected:.1f}; "
        f"significance {best.significance:.1f} is below {NAMING_THRESHOLD:g} (the posts were "
        "widely read, or too few of them point at anyone)."
    )


def _reports(suspects: list[Suspect], by_reader) -> list[ReaderReport]:
    user_ids = [int(s.unit.split(":", 1)[1]) for s in suspects if s.unit.startswith("user:")]
    usernames = dict(User.objects.filter(pk__in=user_ids).values_list("id", "username"))
    token_ids = {d.token_id for s in suspects for d in by_reader[s.unit] if d.token_id}
    tokens = dict(ApiToken.objects.filter(pk__in=token_ids).values_list("id", "name"))
    flags = defaultdict(list)
    principals = {s.unit for s in suspects}
    prefixes = {s.unit.split(":", 1)[1] for s in suspects if s.unit.startswith("ip:")}
    open_flags = Flag.objects.filter(status=Flag.OPEN)
    for flag in open_flags.filter(principal__in=principals) | open_flags.filter(
        user__isnull=True, ip_prefix__in=prefixes
    ):
        key = flag.principal if flag.principal in principals else f"ip:{flag.ip_prefix}"
        flags[key].append({"id": flag.pk, "rule": flag.rule, "score": flag.score})
    reports = []
    for suspect in suspects:
        rows = sorted(by_reader[suspect.unit], key=lambda d: d.created_at)
        user_id = rows[0].user_id if rows else None
        reports.append(
            ReaderReport(
                principal=suspect.unit,
                username=usernames.get(user_id),
                user_id=user_id,
                posts=len(suspect.received),
                groups=suspect.groups,
                post_ids=sorted(suspect.received)[:SHOWN_POST_IDS],
                volume=suspect.volume,
                expected=round(suspect.expected, 2),
                significance=round(suspect.significance, 2),
                named=suspect.named,
                round=suspect.round,
                residual_posts=len(suspect.tested),
                related_groups=suspect.related_groups,
                first_at=rows[0].created_at.isoformat() if rows else "",
                last_at=rows[-1].created_at.isoformat() if rows else "",
                days=sorted({d.day.isoformat() for d in rows}),
                tokens=[
                    {"id": tid, "name": tokens.get(tid, "")}
                    for tid in sorted({d.token_id for d in rows if d.token_id})
                ],
                ip_prefixes=sorted({d.ip_prefix for d in rows}),
                client_ips=sorted({d.client_ip for d in rows if d.client_ip})[:20],
                open_flags=flags.get(suspect.unit, []),
            )
        )
    return reports


def _record(result: TraceResult, *, actor: User | None, via: str) -> None:
    admin_action_log(
        actor=actor,
        action=TRACE_ACTION,
        target=None,
        reason=f"Leak trace ({via}): {result.verdict}",
        details={
            "sha256": result.sha256,
            "items": result.items,
            "matched": len(result.matched),
            "named": [
                {"principal": r.principal, "posts": r.posts, "significance": r.significance}
                for r in result.named
            ],
        },
    )


def leak_flag_open(*, actor: User, report: dict, sha256: str) -> Flag:
    """The open leak flag on a named reader (created if there is none), with the trace's
    evidence, recorded in the admin action log; the review screens then act on it."""
    principal = report["principal"]
    now = timezone.now()
    user_id = report.get("user_id")
    evidence = {
        "summary": (
            f"Received {report.get('posts')} posts of leaked dump {sha256[:12]}… "
            f"(significance {report.get('significance')})"
        ),
        "dump_sha256": sha256,
        "figures": {
            "posts_received": report.get("posts"),
            "significance": report.get("significance"),
            "reading_volume": report.get("volume"),
            "first_delivery": report.get("first_at"),
            "last_delivery": report.get("last_at"),
            "tokens": [t.get("name") or t.get("id") for t in report.get("tokens", [])],
            "ip_prefixes": report.get("ip_prefixes", []),
        },
        "post_ids": report.get("post_ids", [])[:50],
    }
    with transaction.atomic():
        flag = Flag.objects.filter(principal=principal, rule=FLAG_RULE, status=Flag.OPEN).first()
        if flag is None:
            try:
                with transaction.atomic():
                    flag = Flag.objects.create(
                        principal=principal,
                        user_id=user_id,
                        ip_prefix=(report.get("ip_prefixes") or [""])[0][:50],
                        rule=FLAG_RULE,
                        score=min(100.0, 10.0 * float(report.get("significance") or 0)),
                        first_seen=now,
                        last_seen=now,
                        evidence=evidence,
                    )
            except IntegrityError:  # opened by a concurrent request: use that one
                flag = Flag.objects.get(principal=principal, rule=FLAG_RULE, status=Flag.OPEN)
        admin_action_log(
            actor=actor,
            action=FLAG_ACTION,
            target=flag,
            reason=f"Opened from a leak trace of dump {sha256[:12]}…",
            details={"flag": flag.pk, **evidence},
        )
    return flag

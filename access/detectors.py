"""Bulk-access detectors: read the access log incrementally and raise flags for review.

One cursor (``DetectorCursor`` "bulk_access") marks the last access-log record read. Each run
takes the records after it, and for every principal (or token, or IP prefix) they touch,
reloads that key's recent history and slides each rule's window over it, one window per
minute that has new records. A rule that reaches its threshold (``settings.ACCESS_DETECTORS``)
raises a ``Flag``, or grows the open one for the same principal and rule: the span widens,
the record ids are merged (capped), the figures and summary follow the strongest window.
Running twice over the same log changes nothing more: the cursor does not move, and merging
the same finding again is a no-op.
"""

import bisect
import ipaddress
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.client_ip import review_prefix

from .crawlers import crawler_agents, user_agent_match
from .models import AccessLogEntry, DetectorCursor, Flag

logger = logging.getLogger(__name__)

CURSOR_NAME = "bulk_access"
BATCH_SIZE = 5000

BUDGET_EXHAUSTED = "budget_exhausted"
READ_VELOCITY = "read_velocity"
DEEP_PAGING = "deep_paging"
SEQUENTIAL_IDS = "sequential_ids"
SHARED_PREFIX = "shared_prefix"
MANY_IPS = "many_ips"
SCRAPER_USER_AGENT = "scraper_user_agent"
IGNORED_429 = "ignored_429"
APP_SCRAPING = "app_scraping"
QUERY_ENUMERATION = "query_enumeration"
LEAK_TRACE = "leak_trace"  # raised by a reviewer from a leak trace (leaks/), not a detector

RULE_LABELS = {
    BUDGET_EXHAUSTED: "Budget exhausted",
    READ_VELOCITY: "Read velocity",
    DEEP_PAGING: "Deep paging",
    SEQUENTIAL_IDS: "Sequential-id enumeration",
    SHARED_PREFIX: "Many accounts behind one IP prefix",
    MANY_IPS: "One token or account from many IPs",
    SCRAPER_USER_AGENT: "Scraper or AI-crawler user agent",
    IGNORED_429: "Kept asking after 429s",
    APP_SCRAPING: "An app whose accounts read like scrapers together",
    QUERY_ENUMERATION: "Search query enumeration",
    LEAK_TRACE: "Named by a leak trace",
}

FIELDS = (
    "id",
    "created_at",
    "principal",
    "user_id",
    "token_id",
    "application_id",
    "tier",
    "client_ip",
    "user_agent",
    "route_name",
    "path",
    "paging",
    "status",
    "delivered",
    "refused",
    "remaining",
)
POST_ID_IN_PATH = re.compile(r"/(?:posts|statuses)/(\d+)/?$")

Row = dict


@dataclass
class Finding:
    """What one rule saw in one window for one principal: the material of a flag."""

    rule: str
    principal: str
    score: float
    first_seen: datetime
    last_seen: datetime
    summary: str
    figures: dict
    entry_ids: list[int]
    user_id: int | None = None
    ip_prefix: str = ""
    token_id: int | None = None


@dataclass
class DetectionRun:
    """What one run did, for the command's output and the task's return value."""

    entries_read: int = 0
    flags_created: int = 0
    flags_updated: int = 0
    findings: list[Finding] = field(default_factory=list)


def _conf(rule: str) -> dict:
    return settings.ACCESS_DETECTORS[rule]


def _score(value: float, threshold: float) -> float:
    """50 at the threshold, 100 at twice it."""
    return round(min(100.0, 50.0 * value / max(threshold, 1)), 1)


def _post_id(row: Row) -> int | None:
    routes = settings.ACCESS_SINGLE_POST_ROUTES
    match = POST_ID_IN_PATH.search(row["path"] or "")
    if match and (row["route_name"] in routes or not row["route_name"]):
        return int(match.group(1))
    return None


def _max_id(row: Row) -> int | None:
    paging = row["paging"] if isinstance(row["paging"], dict) else {}
    try:
        return int(paging.get("max_id")) if paging.get("max_id") not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _most_common(values: Iterable) -> object | None:
    counted = Counter(value for value in values if value not in (None, ""))
    return counted.most_common(1)[0][0] if counted else None


def _who(principal: str, rows: list[Row]) -> dict:
    """The user, token and IP prefix a finding is about, read from its rows."""
    user_id = _most_common(row["user_id"] for row in rows)
    if principal.startswith("ip:"):
        user_id = None
    return {
        "user_id": user_id,
        "token_id": _most_common(row["token_id"] for row in rows),
        "ip_prefix": _most_common(review_prefix(row["client_ip"]) for row in rows) or "",
    }


def _finding(rule, principal, rows, matched, score, summary, figures, **who) -> Finding:
    cap = settings.ACCESS_FLAG_EVIDENCE_IDS
    ids = sorted(row["id"] for row in matched)[-cap:]
    figures = {"window_minutes": _conf(rule)["window_minutes"], **figures}
    return Finding(
        rule=rule,
        principal=principal,
        score=score,
        first_seen=min(row["created_at"] for row in rows),
        last_seen=max(row["created_at"] for row in rows),
        summary=summary,
        figures=figures,
        entry_ids=ids,
        **(who or _who(principal, rows)),
    )


# --- Rules: each looks at one window of one key's rows and returns a Finding or None ----------


def rule_budget_exhausted(principal: str, rows: list[Row]) -> Finding | None:
    """The reader used up the day's budget: a refusal, or a response leaving 0 remaining."""
    conf = _conf(BUDGET_EXHAUSTED)
    hits = [row for row in rows if row["refused"] > 0 or row["remaining"] == 0]
    if len(hits) < conf["min_exhausted_requests"]:
        return None
    refused = sum(row["refused"] for row in hits)
    tier = _most_common(row["tier"] for row in rows) or "?"
    return _finding(
        BUDGET_EXHAUSTED,
        principal,
        rows,
        hits,
        min(100.0, 30.0 + 5 * len(hits)),
        f"Used up the {tier} budget: {len(hits)} request(s) at 0 remaining or refused, "
        f"{refused} post(s) refused.",
        {"exhausted_requests": len(hits), "posts_refused": refused, "tier": tier},
    )


def rule_read_velocity(principal: str, rows: list[Row]) -> Finding | None:
    """Posts delivered per minute, averaged over the window, at or above the threshold."""
    conf = _conf(READ_VELOCITY)
    delivered = sum(row["delivered"] for row in rows)
    threshold = conf["posts_per_minute"] * conf["window_minutes"]
    if delivered < threshold:
        return None
    per_minute = round(delivered / conf["window_minutes"], 1)
    return _finding(
        READ_VELOCITY,
        principal,
        rows,
        [row for row in rows if row["delivered"]],
        _score(delivered, threshold),
        f"Read {delivered} posts within {conf['window_minutes']} min "
        f"({per_minute}/min; threshold {conf['posts_per_minute']}/min).",
        {"posts_delivered": delivered, "posts_per_minute": per_minute, "requests": len(rows)},
    )


def rule_deep_paging(principal: str, rows: list[Row]) -> Finding | None:
    """Many requests following ``max_id`` (older pages) in a short time."""
    conf = _conf(DEEP_PAGING)
    paged = [row for row in rows if _max_id(row) is not None]
    if len(paged) < conf["min_max_id_requests"]:
        return None
    deepest = min(_max_id(row) for row in paged)
    return _finding(
        DEEP_PAGING,
        principal,
        rows,
        paged,
        _score(len(paged), conf["min_max_id_requests"]),
        f"Followed max_id {len(paged)} times within {conf['window_minutes']} min, "
        f"down to post id {deepest}.",
        {"max_id_requests": len(paged), "deepest_max_id": deepest, "requests": len(rows)},
    )


def rule_sequential_ids(principal: str, rows: list[Row]) -> Finding | None:
    """Single-post requests whose ids form a long near-sequence (an id enumerator)."""
    conf = _conf(SEQUENTIAL_IDS)
    by_id: dict[int, Row] = {}
    for row in rows:
        post_id = _post_id(row)
        if post_id is not None:
            by_id.setdefault(post_id, row)
    ids = sorted(by_id)
    best: list[int] = []
    run: list[int] = []
    for post_id in ids:
        run = run + [post_id] if run and post_id - run[-1] <= conf["max_gap"] else [post_id]
        if len(run) > len(best):
            best = run
    if len(best) < conf["min_run"]:
        return None
    return _finding(
        SEQUENTIAL_IDS,
        principal,
        rows,
        [by_id[post_id] for post_id in best],
        _score(len(best), conf["min_run"]),
        f"Opened {len(best)} single posts with ids in near-sequence ({best[0]}…{best[-1]}, "
        f"gaps ≤ {conf['max_gap']}).",
        {
            "sequence_length": len(best),
            "first_id": best[0],
            "last_id": best[-1],
            "single_post_requests": len(by_id),
        },
    )


def rule_scraper_user_agent(principal: str, rows: list[Row]) -> Finding | None:
    """Requests whose User-Agent names a scraping library or an AI crawler."""
    conf = _conf(SCRAPER_USER_AGENT)
    # The rows robots.txt names (access/crawlers.py), read once, and each row matched once.
    known = crawler_agents()
    matches = [
        (row, name)
        for row in rows
        if (name := user_agent_match(row["user_agent"], agents=known)) is not None
    ]
    matched = [row for row, _name in matches]
    if len(matched) < conf["min_requests"]:
        return None
    agents = Counter(row["user_agent"][:120] for row in matched)
    names = sorted({name for _row, name in matches})
    delivered = sum(row["delivered"] for row in matched)
    return _finding(
        SCRAPER_USER_AGENT,
        principal,
        rows,
        matched,
        min(100.0, 50.0 + len(matched) + delivered / 20),
        f"{len(matched)} request(s) from a scraper user agent ({', '.join(names)}), "
        f"{delivered} post(s) delivered.",
        {
            "requests": len(matched),
            "posts_delivered": delivered,
            "user_agents": [agent for agent, _count in agents.most_common(3)],
        },
    )


def rule_ignored_429(principal: str, rows: list[Row]) -> Finding | None:
    """The reader kept asking after being refused with 429."""
    conf = _conf(IGNORED_429)
    refused = [row for row in rows if row["status"] == 429]
    repeats = len(refused) - 1
    if repeats < conf["min_refused_requests"]:
        return None
    return _finding(
        IGNORED_429,
        principal,
        rows,
        refused,
        _score(repeats, conf["min_refused_requests"]),
        f"Asked {repeats} more time(s) after a 429 within {conf['window_minutes']} min.",
        {"requests_after_429": repeats, "responses_429": len(refused)},
    )


def rule_query_enumeration(principal: str, rows: list[Row]) -> Finding | None:
    """Many distinct search queries from one reader in a short time (walking the index by
    query: "a", "b", …, or a word list), whatever each query returned."""
    conf = _conf(QUERY_ENUMERATION)
    routes = set(settings.ACCESS_SEARCH_ROUTES)
    searches = [row for row in rows if row["route_name"] in routes]
    first_of: dict[str, Row] = {}
    for row in searches:
        paging = row["paging"] if isinstance(row["paging"], dict) else {}
        query = str(paging.get("q", "")).strip().lower()
        if query:
            first_of.setdefault(query, row)
    if len(first_of) < conf["min_distinct_queries"]:
        return None
    delivered = sum(row["delivered"] for row in searches)
    return _finding(
        QUERY_ENUMERATION,
        principal,
        rows,
        list(first_of.values()),
        _score(len(first_of), conf["min_distinct_queries"]),
        f"Sent {len(first_of)} distinct search queries within {conf['window_minutes']} min "
        f"({len(searches)} searches, {delivered} post(s) delivered).",
        {
            "distinct_queries": len(first_of),
            "searches": len(searches),
            "posts_delivered": delivered,
            "sample_queries": sorted(first_of)[:10],
        },
    )


def rule_shared_prefix(prefix: str, rows: list[Row]) -> Finding | None:
    """Many accounts reading heavily from one IPv4 /24 or IPv6 /64 (an account farm)."""
    conf = _conf(SHARED_PREFIX)
    account_rows = [row for row in rows if row["user_id"] is not None]
    accounts = {row["user_id"] for row in account_rows}
    delivered = sum(row["delivered"] for row in account_rows)
    if len(accounts) < conf["min_accounts"] or delivered < conf["min_delivered"]:
        return None
    score = min(
        _score(len(accounts), conf["min_accounts"]), _score(delivered, conf["min_delivered"])
    )
    return _finding(
        SHARED_PREFIX,
        f"net:{prefix}",
        account_rows,
        account_rows,
        score,
        f"{len(accounts)} accounts read {delivered} posts from {prefix} within "
        f"{conf['window_minutes']} min.",
        {
            "accounts": len(accounts),
            "posts_delivered": delivered,
            "requests": len(account_rows),
            "user_ids": sorted(accounts)[:20],
        },
        user_id=None,
        token_id=None,
        ip_prefix=prefix,
    )


def rule_many_ips(principal: str, rows: list[Row]) -> Finding | None:
    """One token (or one account's sessions) used from many client IPs."""
    conf = _conf(MANY_IPS)
    ips = {row["client_ip"] for row in rows if row["client_ip"]}
    if len(ips) < conf["min_ips"]:
        return None
    prefixes = {review_prefix(ip) for ip in ips}
    what = "Token" if principal.startswith("token:") else "Account"
    return _finding(
        MANY_IPS,
        principal,
        rows,
        rows,
        _score(len(ips), conf["min_ips"]),
        f"{what} used from {len(ips)} IP addresses in {len(prefixes)} networks within "
        f"{conf['window_minutes']} min.",
        {
            "distinct_ips": len(ips),
            "distinct_prefixes": len(prefixes),
            "requests": len(rows),
            "ips": sorted(ips, key=_ip_sort_key)[:10],
        },
        user_id=_most_common(row["user_id"] for row in rows),
        token_id=_most_common(row["token_id"] for row in rows),
        ip_prefix="",
    )


def rule_app_scraping(principal: str, rows: list[Row]) -> Finding | None:
    """Many accounts of one OAuth app each reading heavily in the same window: one app is a
    unit of bulk access, and a scraper spreading its load over many sign-ups shows here even
    when each account stays under its own budget and behind different IPs."""
    conf = _conf(APP_SCRAPING)
    per_account: Counter = Counter()
    for row in rows:
        if row["user_id"] is not None:
            per_account[row["user_id"]] += row["delivered"]
    heavy = {user: n for user, n in per_account.items() if n >= conf["min_posts_per_account"]}
    if len(heavy) < conf["min_accounts"]:
        return None
    matched = [row for row in rows if row["user_id"] in heavy]
    delivered = sum(heavy.values())
    return _finding(
        APP_SCRAPING,
        principal,
        matched,
        matched,
        _score(len(heavy), conf["min_accounts"]),
        f"{len(heavy)} accounts of this app each read at least "
        f"{conf['min_posts_per_account']} posts ({delivered} in all) within "
        f"{conf['window_minutes']} min.",
        {
            "accounts": len(heavy),
            "accounts_of_the_app": len(per_account),
            "posts_delivered": delivered,
            "requests": len(matched),
            "user_ids": sorted(heavy)[:20],
        },
        user_id=None,
        token_id=None,
        ip_prefix="",
    )


def _ip_sort_key(address: str):
    parsed = ipaddress.ip_address(address)
    return (parsed.version, int(parsed))


# --- Keys: how records are grouped, and how to reload one group's history ----------------------


@dataclass(frozen=True)
class Grouping:
    """One way of grouping log records, the query that reloads a group, and its rules."""

    key: Callable[[Row], str | None]
    query: Callable[[str], Q]
    principal: Callable[[str], str]
    rules: tuple[tuple[str, Callable[[str, list[Row]], Finding | None]], ...]


def _prefix_query(prefix: str) -> Q:
    # The log stores the same grouping (access.access_log.log_ip_prefix: IPv4 /24, IPv6 /64),
    # indexed with the time for exactly this query.
    return Q(ip_prefix=prefix)


def _ip_key(row: Row) -> str | None:
    if row["user_id"] is None or not row["client_ip"]:
        return None
    return review_prefix(row["client_ip"]) or None


def _many_ips_key(row: Row) -> str | None:
    if row["token_id"] is not None:
        return f"token:{row['token_id']}"
    if row["user_id"] is not None:
        return f"user:{row['user_id']}"
    return None


def _many_ips_query(key: str) -> Q:
    kind, _, value = key.partition(":")
    if kind == "token":
        return Q(token_id=int(value))
    return Q(user_id=int(value), token_id__isnull=True)


def _app_key(row: Row) -> str | None:
    return f"app:{row['application_id']}" if row["application_id"] is not None else None


GROUPINGS = (
    Grouping(
        key=lambda row: row["principal"] or None,
        query=lambda key: Q(principal=key),
        principal=lambda key: key,
        rules=(
            (BUDGET_EXHAUSTED, rule_budget_exhausted),
            (READ_VELOCITY, rule_read_velocity),
            (DEEP_PAGING, rule_deep_paging),
            (SEQUENTIAL_IDS, rule_sequential_ids),
            (SCRAPER_USER_AGENT, rule_scraper_user_agent),
            (IGNORED_429, rule_ignored_429),
            (QUERY_ENUMERATION, rule_query_enumeration),
        ),
    ),
    Grouping(
        key=_many_ips_key,
        query=_many_ips_query,
        principal=lambda key: key,
        rules=((MANY_IPS, rule_many_ips),),
    ),
    Grouping(
        key=_ip_key,
        query=_prefix_query,
        principal=lambda key: key,
        rules=((SHARED_PREFIX, rule_shared_prefix),),
    ),
    Grouping(
        key=_app_key,
        query=lambda key: Q(application_id=int(key.partition(":")[2])),
        principal=lambda key: key,
        rules=((APP_SCRAPING, rule_app_scraping),),
    ),
)


def _windows(rows: list[Row], minutes: int, after_id: int) -> Iterable[list[Row]]:
    """The windows worth judging: one ending at the last new record of each minute."""
    times = [row["created_at"] for row in rows]
    ends: dict[datetime, int] = {}
    for index, row in enumerate(rows):
        if row["id"] > after_id:
            ends[row["created_at"].replace(second=0, microsecond=0)] = index
    span = timedelta(minutes=minutes)
    for end in ends.values():
        start = bisect.bisect_left(times, times[end] - span)
        yield rows[start : end + 1]


def findings_for(new_rows: list[Row], *, after_id: int, last_id: int) -> list[Finding]:
    """Every rule's strongest finding for every key the new rows touch."""
    findings: list[Finding] = []
    for grouping in GROUPINGS:
        earliest: dict[str, datetime] = {}
        for row in new_rows:
            key = grouping.key(row)
            if key is not None and (key not in earliest or row["created_at"] < earliest[key]):
                earliest[key] = row["created_at"]
        longest = max(_conf(rule)["window_minutes"] for rule, _ in grouping.rules)
        for key, first_new in earliest.items():
            history = list(
                AccessLogEntry.objects.filter(
                    grouping.query(key),
                    created_at__gte=first_new - timedelta(minutes=longest),
                    id__lte=last_id,
                )
                .order_by("created_at", "id")
                .values(*FIELDS)
            )
            if grouping.key is _ip_key:
                history = [row for row in history if _ip_key(row) == key]
            for rule, judge in grouping.rules:
                fired = [
                    found
                    for window in _windows(history, _conf(rule)["window_minutes"], after_id)
                    if (found := judge(grouping.principal(key), window)) is not None
                ]
                if fired:
                    findings.append(_combine(fired))
    return findings


def _combine(fired: list[Finding]) -> Finding:
    """One finding from every window that fired: the strongest (latest on a tie) tells the
    story, the span and the cited records cover them all."""
    best = max(reversed(fired), key=lambda found: found.score)
    cap = settings.ACCESS_FLAG_EVIDENCE_IDS
    best.first_seen = min(found.first_seen for found in fired)
    best.last_seen = max(found.last_seen for found in fired)
    best.entry_ids = sorted({i for found in fired for i in found.entry_ids})[-cap:]
    return best


# --- Flags ---------------------------------------------------------------------------------------


def flag_raise(*, finding: Finding) -> tuple[Flag | None, str]:
    """Open a flag for ``finding`` or grow the open one; returns (flag, "created"|"updated"|"").

    A reviewer's decision stands: evidence that ends before the last resolution of the same
    principal and rule raises nothing again.
    """
    now = timezone.now()
    flag = (
        Flag.objects.select_for_update()
        .filter(principal=finding.principal, rule=finding.rule, status=Flag.OPEN)
        .first()
    )
    evidence = {
        "summary": finding.summary,
        "figures": finding.figures,
        "entry_ids": finding.entry_ids,
    }
    if flag is None:
        resolved = (
            Flag.objects.filter(principal=finding.principal, rule=finding.rule)
            .exclude(status=Flag.OPEN)
            .exclude(resolved_at__isnull=True)
            .order_by("-resolved_at")
            .first()
        )
        if resolved is not None and finding.last_seen <= resolved.resolved_at:
            return None, ""
        flag = Flag.objects.create(
            principal=finding.principal,
            rule=finding.rule,
            user_id=finding.user_id,
            ip_prefix=finding.ip_prefix,
            token_id=finding.token_id,
            score=finding.score,
            first_seen=finding.first_seen,
            last_seen=finding.last_seen,
            evidence=evidence,
            created_at=now,
            updated_at=now,
        )
        return flag, "created"

    before = (flag.score, flag.first_seen, flag.last_seen, flag.evidence)
    merged = dict(flag.evidence)
    cap = settings.ACCESS_FLAG_EVIDENCE_IDS
    merged["entry_ids"] = sorted(set(merged.get("entry_ids", [])) | set(finding.entry_ids))[-cap:]
    if finding.score >= flag.score:
        # The strongest window tells the story; weaker later windows only widen the span.
        merged["summary"] = finding.summary
        merged["figures"] = finding.figures
        flag.score = finding.score
    flag.first_seen = min(flag.first_seen, finding.first_seen)
    flag.last_seen = max(flag.last_seen, finding.last_seen)
    flag.evidence = merged
    flag.user_id = flag.user_id or finding.user_id
    flag.token_id = flag.token_id or finding.token_id
    flag.ip_prefix = flag.ip_prefix or finding.ip_prefix
    if (flag.score, flag.first_seen, flag.last_seen, flag.evidence) == before:
        return flag, ""
    flag.updated_at = now
    flag.save()
    return flag, "updated"


def detect_bulk_access(*, batch_size: int = BATCH_SIZE) -> DetectionRun:
    """Read the access log past the cursor in batches and raise or grow flags (idempotent)."""
    run = DetectionRun()
    DetectorCursor.objects.get_or_create(name=CURSOR_NAME)
    while True:
        with transaction.atomic():
            # Locking the cursor serialises concurrent runs (beat overlap, a manual command).
            cursor = DetectorCursor.objects.select_for_update().get(name=CURSOR_NAME)
            new_rows = list(
                AccessLogEntry.objects.filter(id__gt=cursor.last_entry_id)
                .order_by("id")
                .values(*FIELDS)[:batch_size]
            )
            if not new_rows:
                return run
            last_id = new_rows[-1]["id"]
            for finding in findings_for(new_rows, after_id=cursor.last_entry_id, last_id=last_id):
                flag, outcome = flag_raise(finding=finding)
                if outcome == "created":
                    run.flags_created += 1
                elif outcome == "updated":
                    run.flags_updated += 1
                if outcome:
                    run.findings.append(finding)
            cursor.last_entry_id = last_id
            cursor.updated_at = timezone.now()
            cursor.save(update_fields=["last_entry_id", "updated_at"])
            run.entries_read += len(new_rows)
        if len(new_rows) < batch_size:
            return run

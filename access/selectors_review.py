"""Reads for the review screens: the flag queue, one flag's story, and the dashboard figures."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone

from accounts.models import Tier, User
from core.models import AdminActionLog

from .detectors import RULE_LABELS
from .models import AccessLogEntry, Flag

PERMISSION = "access.review_scrape_logs"


def can_review(user) -> bool:
    """True for active staff holding the review permission (superusers hold every permission)."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(PERMISSION))


def flag_queue(*, status: str | None = Flag.OPEN, rule: str | None = None) -> QuerySet[Flag]:
    """Flags for review, highest score and newest first (the ``flag_queue`` index)."""
    flags = Flag.objects.select_related("resolved_by").order_by("-score", "-last_seen", "-id")
    if status:
        flags = flags.filter(status=status)
    if rule:
        flags = flags.filter(rule=rule)
    return flags


def flags_with_accounts(flags) -> list[Flag]:
    """``flags`` as a list, each with ``account`` (its User or None) loaded in one query."""
    flags = list(flags)
    users = User.objects.in_bulk({flag.user_id for flag in flags if flag.user_id})
    for flag in flags:
        flag.account = users.get(flag.user_id)
    return flags


def flag_actions(*, flag: Flag) -> QuerySet[AdminActionLog]:
    """What reviewers did about ``flag``, oldest first."""
    return (
        AdminActionLog.objects.filter(details__flag_id=flag.pk)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def _log_url(**params) -> str:
    return f"{reverse('admin:access_accesslogentry_changelist')}?{urlencode(params)}"


def flag_log_links(*, flag: Flag) -> list[tuple[str, str]]:
    """Links to the access-log records behind a flag: the cited ones and the whole span."""
    links = []
    ids = flag.evidence.get("entry_ids") or []
    if ids:
        links.append(
            (f"The {len(ids)} cited record(s)", _log_url(id__in=",".join(str(i) for i in ids)))
        )
    span = {
        "created_at__gte": flag.first_seen.isoformat(),
        "created_at__lte": flag.last_seen.isoformat(),
    }
    if flag.principal.startswith(("user:", "ip:")):
        links.append(
            ("Every record of this reader in the span", _log_url(principal=flag.principal, **span))
        )
    elif flag.principal.startswith("token:") and flag.token_id:
        links.append(
            ("Every record of this token in the span", _log_url(token_id=flag.token_id, **span))
        )
    elif flag.ip_prefix:
        links.append(
            (
                "Every record from this network in the span",
                _log_url(ip_prefix=flag.ip_prefix, **span),
            )
        )
    return links


def flag_figures(*, flag: Flag) -> list[tuple[str, object]]:
    """The evidence's figures as (label, value) pairs a person can read."""
    figures = flag.evidence.get("figures") or {}
    rows = []
    for key, value in figures.items():
        label = key.replace("_", " ").capitalize()
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        rows.append((label, value))
    return rows


def flag_user(*, flag: Flag) -> User | None:
    return (
        User.objects.filter(pk=flag.user_id).select_related("tier_override").first()
        if flag.user_id
        else None
    )


# --- Dashboard ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One line or bar stack of a chart: a tier and its value per hour."""

    name: str
    values: list[int]


@dataclass(frozen=True)
class HourlyChart:
    """Posts read per hour by tier over a span ending now."""

    hours: list[datetime]
    series: list[Series]

    @property
    def total(self) -> int:
        return sum(sum(series.values) for series in self.series)


def reads_per_hour(*, hours: int, now: datetime | None = None) -> HourlyChart:
    """Posts delivered per hour and tier over the last ``hours`` hours (one grouped query)."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    buckets = [start + timedelta(hours=i) for i in range(hours)]
    rows = (
        AccessLogEntry.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "tier")
        .annotate(posts=Sum("delivered"))
        .order_by()
    )
    index = {hour: i for i, hour in enumerate(buckets)}
    tiers = list(Tier.objects.values_list("slug", flat=True))
    per_tier: dict[str, list[int]] = {}
    for row in rows:
        hour = row["hour"]
        if hour is None:
            continue
        position = index.get(hour.replace(tzinfo=start.tzinfo) if hour.tzinfo is None else hour)
        if position is None:
            continue
        values = per_tier.setdefault(row["tier"], [0] * hours)
        values[position] += row["posts"] or 0
    order = {slug: i for i, slug in enumerate(tiers)}
    series = [
        Series(name, values)
        for name, values in sorted(per_tier.items(), key=lambda item: order.get(item[0], 99))
    ]
    return HourlyChart(hours=buckets, series=series)


def top_readers_today(*, limit: int = 10, now: datetime | None = None) -> list[dict]:
    """Today's (UTC) biggest readers by posts delivered, with their refusals."""
    now = now or timezone.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = list(
        AccessLogEntry.objects.filter(created_at__gte=start)
        .values("principal")
        .annotate(
            posts=Sum("delivered"),
            refused=Sum("refused"),
            requests=Count("id"),
            refusals=Count("id", filter=Q(status=429)),
            ips=Count("client_ip", distinct=True),
        )
        .order_by("-posts", "principal")[:limit]
    )
    user_ids = [int(row["principal"][5:]) for row in rows if row["principal"].startswith("user:")]
    users = User.objects.in_bulk(user_ids)
    for row in rows:
        principal = row["principal"]
        user = users.get(int(principal[5:])) if principal.startswith("user:") else None
        row["user"] = user
        row["log_url"] = _log_url(principal=principal, created_at__gte=start.isoformat())
    return rows


def refusals_today(*, now: datetime | None = None) -> dict:
    """Today's refusals: 429 responses and posts refused, in total and by tier."""
    now = now or timezone.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = AccessLogEntry.objects.filter(created_at__gte=start)
    totals = today.aggregate(
        responses_429=Count("id", filter=Q(status=429)),
        posts_refused=Sum("refused"),
        requests=Count("id"),
        readers_refused=Count("principal", filter=Q(refused__gt=0), distinct=True),
    )
    by_tier = list(
        today.filter(refused__gt=0)
        .values("tier")
        .annotate(posts=Sum("refused"), responses=Count("id", filter=Q(status=429)))
        .order_by("-posts")
    )
    return {
        **totals,
        "by_tier": by_tier,
        "log_url": _log_url(refused__gt=0, created_at__gte=start.isoformat()),
    }


def open_flags_by_rule() -> list[dict]:
    """How many flags are open under each rule (every rule listed, zeros included)."""
    counts = dict(
        Flag.objects.filter(status=Flag.OPEN).values_list("rule").annotate(n=Count("id")).order_by()
    )
    return [
        {"rule": rule, "label": label, "count": counts.get(rule, 0)}
        for rule, label in RULE_LABELS.items()
    ]

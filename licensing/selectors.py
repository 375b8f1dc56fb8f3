"""Reads for the licensed lane: plans, a licensee's licences, a token's licence, usage."""

from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone

from accounts.models import User

from .models import DataPlan, Licence, LicenceToken, LicenceUsageDay, Receipt
from .quota import month_reset_at, month_start, month_window_seconds, quota_ledger_get

USAGE_DAYS = 31


def plans_on_sale():
    return DataPlan.objects.filter(is_active=True)


def licences_of(*, user: User):
    return Licence.objects.filter(user=user).select_related("plan").order_by("-created_at")


def licence_for_checkout(*, user: User, checkout_ref: str) -> Licence | None:
    return Licence.objects.filter(user=user, checkout_ref=checkout_ref).first()


def licence_for_token(token) -> Licence | None:
    """The licence a token was created for (None: an ordinary token)."""
    if token is None or not getattr(token, "pk", None):
        return None
    link = (
        LicenceToken.objects.filter(token_id=token.pk)
        .select_related("licence__plan", "licence__user")
        .first()
    )
    return link.licence if link else None


def licence_refusal(licence: Licence) -> str:
    """Why a licence's token is refused now, and what to do, for the 403's ``error``."""
    ends = licence.access_ends_at()
    when = f" on {ends:%Y-%m-%d %H:%M} UTC" if ends and ends.year > 1970 else ""
    where = "Buy a data plan under Settings → Data licences to get a new one."
    if licence.status == Licence.Status.PENDING:
        return "This data licence has not been paid for yet: finish the checkout first."
    if licence.status in (Licence.Status.PAST_DUE, Licence.Status.LAPSED) or (
        licence.status == Licence.Status.ACTIVE and not licence.cancel_at_period_end
    ):
        return (
            f"This data licence lapsed{when}: its renewal was not paid. Update the payment "
            "method with the payment provider, or " + where[0].lower() + where[1:]
        )
    return f"This data licence ended{when} and its tokens no longer work. {where}"


def licence_tokens(*, licence: Licence):
    return LicenceToken.objects.filter(licence=licence).select_related("token")


def usage_by_day(*, licences, days: int = USAGE_DAYS, today: date | None = None) -> list[dict]:
    """Posts charged per UTC day over the last ``days`` days (zeros included), summed over
    ``licences``: what the usage chart draws."""
    today = today or timezone.now().date()
    start = today - timedelta(days=days - 1)
    rows = (
        LicenceUsageDay.objects.filter(licence__in=licences, day__gte=start)
        .values("day")
        .annotate(posts=Sum("posts"))
    )
    by_day = {row["day"]: row["posts"] for row in rows}
    return [
        {"day": start + timedelta(days=n), "posts": by_day.get(start + timedelta(days=n), 0)}
        for n in range(days)
    ]


def month_used(*, licence: Licence, today: date | None = None) -> int:
    """Posts charged to ``licence`` this month, as the configured quota ledger counts them."""
    return quota_ledger_get().peek(licence_id=licence.pk, day=today or timezone.now().date())


def receipts_recent(*, licence: Licence, limit: int = 20):
    return Receipt.objects.filter(licence=licence).order_by("-issued_at")[:limit]


def plans_usage(*, today: date | None = None) -> list[dict]:
    """Every plan's licences and posts charged this month (for the review dashboard)."""
    today = today or timezone.now().date()
    month = month_start(today)
    result = []
    for plan in DataPlan.objects.all():
        licences = Licence.objects.filter(plan=plan)
        # From the usage rows, which both quota ledgers write.
        used = LicenceUsageDay.objects.filter(licence__in=licences, day__gte=month).aggregate(
            total=Sum("posts")
        )["total"]
        result.append(
            {
                "plan": plan,
                "active_licences": licences.filter(status__in=Licence.LIVE_STATUSES).count(),
                "used_this_month": used or 0,
                "by_day": usage_by_day(licences=licences, today=today),
            }
        )
    return result


def licence_quota_status(token) -> dict | None:
    """Where a licence token's licence stands this month (for /api/v1/rate_limits), or None
    for an ordinary token. Read without charging."""
    licence = licence_for_token(token)
    if licence is None:
        return None
    today = timezone.now().date()
    used = quota_ledger_get().peek(licence_id=licence.pk, day=today)
    quota = licence.plan.monthly_post_quota
    return {
        "policy": "licensed-posts",
        "plan": licence.plan.slug,
        "status": licence.status,
        "limit": quota,
        "used": used,
        "remaining": max(quota - used, 0),
        "window": month_window_seconds(today),
        "reset_at": month_reset_at(today).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }

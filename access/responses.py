"""What a refused reader is told: the 429 body and ``Retry-After``, shared by web and API."""

import math

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from core.waits import duration_text, reset_at_iso

from .gate import ReadGrant

ANONYMOUS_TIER = "anonymous"


def upgrade_url(grant: ReadGrant) -> str:
    """Where to get more reads: sign up when logged out, else the verification page."""
    names = ["accounts:signup"] if grant.tier == ANONYMOUS_TIER else ["accounts:verification"]
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    # The pages live at these paths even before their URL names exist.
    if grant.tier == ANONYMOUS_TIER:
        return "/accounts/signup/"
    return "/accounts/settings/verification/"


def retry_after_seconds(grant: ReadGrant) -> int:
    """Seconds until asking again can succeed: the next 00:00 UTC, or a short wait when the
    ledger was unreachable."""
    if grant.ledger_unavailable:
        return settings.ACCESS_LEDGER_UNAVAILABLE_RETRY_AFTER
    return max(math.ceil((grant.reset_at - timezone.now()).total_seconds()), 1)


def budget_exhausted_message(grant: ReadGrant) -> str:
    """One paragraph for a person: what happened, when it resets, how to get more."""
    if grant.ledger_unavailable:
        return (
            "We can't check your daily read budget right now, so we are not serving posts for a "
            f"moment. Please try again in {duration_text(retry_after_seconds(grant))}; nothing "
            "has been charged."
        )
    limit = intcomma(grant.limit) if grant.limit is not None else "unlimited"
    when = f"00:00 UTC (in {duration_text(retry_after_seconds(grant))})"
    if grant.tier == ANONYMOUS_TIER:
        more = "Sign up or log in for a bigger daily budget."
    else:
        more = "Get verified for a bigger daily budget."
    return (
        f"You have read your {limit} posts for today. Your read budget resets at {when}; "
        f"posts you already read today stay free to view again. {more}"
    )


def budget_exhausted_payload(grant: ReadGrant) -> dict:
    """The JSON body of a read-budget 429: Mastodon's ``error`` plus machine-readable fields."""
    return {
        "error": budget_exhausted_message(grant),
        "code": "read_budget_unavailable" if grant.ledger_unavailable else "read_budget_exhausted",
        "limit": grant.limit,
        "remaining": grant.remaining,
        "reset_at": reset_at_iso(grant),
        "tier": grant.tier,
        "upgrade_url": upgrade_url(grant),
    }


def budget_exhausted_page(request, grant: ReadGrant):
    """The web UI's 429: a friendly page saying why, when it resets and how to get more."""
    from django.shortcuts import render

    context = {
        "grant": grant,
        "upgrade_url": upgrade_url(grant),
        "reset_at_iso": reset_at_iso(grant),
        "message": budget_exhausted_message(grant),
    }
    response = render(request, "access/budget_exhausted.html", context, status=429)
    response["Retry-After"] = str(retry_after_seconds(grant))
    return response

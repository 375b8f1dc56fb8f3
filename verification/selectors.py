"""Reads for paid verification: eligibility (with open scrape flags), the plan offered,
an account's current subscription and the settings page's overview."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from access.models import Flag
from accounts.models import Tier, User
from accounts.selectors import effective_tier, email_is_confirmed

from .models import Plan, Subscription


@dataclass(frozen=True)
class UnmetRequirement:
    """One reason an account cannot buy verification yet, in words a person understands."""

    code: str
    message: str


@dataclass(frozen=True)
class VerificationOverview:
    """Everything the verification settings page shows, read in one place."""

    plan: Plan | None
    subscription: Subscription | None
    unmet: list[UnmetRequirement]
    provider: str
    tier: Tier
    verified_tier: Tier | None

    @property
    def eligible(self) -> bool:
        return not self.unmet

    @property
    def can_checkout(self) -> bool:
        """True when "Get verified" should be offered: eligible, a plan exists, nothing live."""
        live = self.subscription is not None and self.subscription.is_live
        return self.eligible and self.plan is not None and not live


def verification_open_flag_reasons(*, user: User) -> list[str]:
    """Reasons from open scrape flags that block verification.

    One sentence per day with an open flag against the account ("Our systems flagged unusual bulk
    reading on your account on 2026-11-20."); the rule's details stay with the reviewers.
    """
    days = (
        Flag.objects.filter(user_id=user.pk, status=Flag.OPEN)
        .order_by("first_seen")
        .values_list("first_seen", flat=True)
    )
    seen = sorted({day.date() for day in days})
    return [
        f"Our systems flagged unusual bulk reading on your account on {day:%Y-%m-%d}; "
        "it must be reviewed before you can get verified."
        for day in seen
    ]


def verification_eligibility(*, user: User) -> list[UnmetRequirement]:
    """The requirements ``user`` does not meet yet to buy verification; empty means eligible."""
    unmet: list[UnmetRequirement] = []
    if not email_is_confirmed(user=user):
        unmet.append(
            UnmetRequirement(
                "email_unconfirmed",
                f"Confirm your email address ({user.email}) with the link we sent you.",
            )
        )
    min_days = settings.VERIFICATION_MIN_ACCOUNT_AGE_DAYS
    eligible_at = user.date_joined + timedelta(days=min_days)
    if timezone.now() < eligible_at:
        unmet.append(
            UnmetRequirement(
                "account_too_new",
                f"Your account must be at least {min_days} days old; "
                f"it will be on {eligible_at:%Y-%m-%d %H:%M} UTC.",
            )
        )
    if not user.display_name.strip():
        unmet.append(UnmetRequirement("no_display_name", "Set a display name in your profile."))
    if user.tier_override_id is not None and user.tier_override.slug == Tier.RESTRICTED:
        unmet.append(
            UnmetRequirement(
                "restricted",
                "An admin has restricted your account, so it cannot be verified. "
                "Contact support if you think this is a mistake.",
            )
        )
    for reason in verification_open_flag_reasons(user=user):
        unmet.append(UnmetRequirement("open_flag", reason))
    return unmet


def plan_get_default() -> Plan | None:
    """The plan offered at checkout: the cheapest active one (normally the seeded "Verified")."""
    return Plan.objects.filter(is_active=True).order_by("price_minor", "pk").first()


def subscription_current(*, user: User) -> Subscription | None:
    """The subscription that describes ``user``'s verification now: the live one if any, else
    the most recent one (to explain why it ended), ignoring abandoned checkouts."""
    subscriptions = Subscription.objects.filter(user=user).select_related("plan")
    live = subscriptions.filter(status__in=Subscription.LIVE_STATUSES).order_by("-pk").first()
    if live is not None:
        return live
    return (
        subscriptions.exclude(
            status__in=[Subscription.Status.CHECKOUT_CANCELED, Subscription.Status.PENDING]
        )
        .order_by("-pk")
        .first()
    )


def verification_overview(*, user: User) -> VerificationOverview:
    """What the verification settings page needs: plan, subscription, unmet requirements,
    the account's tier now and what the verified tier gives."""
    return VerificationOverview(
        plan=plan_get_default(),
        subscription=subscription_current(user=user),
        unmet=verification_eligibility(user=user),
        provider=settings.PAYMENTS_PROVIDER,
        tier=effective_tier(user),
        verified_tier=Tier.objects.filter(slug=Tier.VERIFIED).first(),
    )


def subscription_get_for_checkout(*, user: User, checkout_ref: str) -> Subscription | None:
    """The user's own subscription behind a checkout reference, or None (someone else's too)."""
    return (
        Subscription.objects.select_related("plan", "user")
        .filter(user=user, checkout_ref=checkout_ref)
        .first()
    )

"""Reads for accounts: lookups by name, email and token; tiers; verification status."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from access.models import Flag  # billing still in accounts/: see pyproject.toml

from .emails import email_canonical, email_normalize
from .models import ApiToken, EmailConfirmation, Plan, Subscription, Tier, User
from .validators import USERNAME_RE

_TIER_CACHE_ATTR = "_effective_tier"


def username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def users_by_mailbox(email: str) -> QuerySet[User]:
    """The accounts behind this address: those holding its mailbox (``email_canonical``), and
    the one with this exact address (for accounts whose canonical form is blank: duplicates
    from before it existed; see migration 0005). None for an address without a mailbox."""
    canonical = email_canonical(email)
    if not canonical:
        return User.objects.none()
    # Both sides are indexed: the canonical constraint, and user_email_ci_unique on Lower(email).
    return User.objects.alias(email_lower=Lower("email")).filter(
        Q(email_canonical=canonical) | Q(email_lower=email_normalize(email))
    )


def user_email_taken(email: str, *, exclude_user: User | None = None) -> bool:
    """True when another account already uses this address or another spelling of its
    mailbox."""
    query = users_by_mailbox(email)
    if exclude_user is not None:
        query = query.exclude(pk=exclude_user.pk)
    return query.exists()


def user_get_by_username(*, username: str) -> User | None:
    """The active account with this username (case-insensitive), or None.

    A string no username can be (a NUL byte, which PostgreSQL refuses outright; other
    characters; too long) is None without a query."""
    if not USERNAME_RE.fullmatch(username or ""):
        return None
    return User.objects.filter(username__iexact=username, is_active=True).first()


def token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token whose secret is ``raw``, with its user, or None."""
    if not raw or len(raw) > 200:
        return None
    return (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash_secret(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def token_list(*, user: User) -> QuerySet[ApiToken]:
    """A user's tokens, newest first (revoked ones included, marked)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def effective_tier_slug(user) -> str:
    """Which tier applies to ``user`` (None or anonymous: "anonymous"), by the one rule:
    admin override > staff > active paid verification > account age > unverified."""
    if user is None or not user.is_authenticated:
        return Tier.ANONYMOUS
    if user.tier_override_id is not None:
        return user.tier_override.slug
    if user.is_staff:
        return Tier.UNLIMITED
    if user.is_verified:
        return Tier.VERIFIED
    if timezone.now() - user.date_joined < timedelta(days=settings.NEW_ACCOUNT_DAYS):
        return Tier.NEW
    return Tier.UNVERIFIED


def effective_tier(user) -> Tier:
    """The Tier row that decides ``user``'s read budget.

    Cached on the user object, which lives for one request (``request.user``), so a tier or
    budget change takes effect on the next request and never leaks across requests.
    """
    cached = getattr(user, _TIER_CACHE_ATTR, None) if user is not None else None
    if cached is not None:
        return cached
    tier = Tier.objects.get(slug=effective_tier_slug(user))
    if user is not None:
        setattr(user, _TIER_CACHE_ATTR, tier)
    return tier


# --- Paid verification --------------------------------------------------------------------


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


def email_is_confirmed(*, user: User) -> bool:
    """True when the account's current email address was confirmed through a link."""
    return EmailConfirmation.objects.filter(
        user=user, email__iexact=user.email, used_at__isnull=False
    ).exists()


def users_never_sent_a_confirmation(*, joined_after, joined_before) -> QuerySet[User]:
    """Active accounts that joined in the window and were never sent a confirmation link for
    their current address: their sign-up could not queue the email (the broker was down)."""
    sent = EmailConfirmation.objects.filter(user=OuterRef("pk"), email__iexact=OuterRef("email"))
    return (
        User.objects.filter(
            is_active=True, date_joined__gt=joined_after, date_joined__lte=joined_before
        )
        .exclude(email="")
        .filter(~Exists(sent))
        .order_by("pk")
    )


def verification_open_flag_reasons(*, user: User) -> list[str]:
    """Hook for the audit work: reasons from open scrape flags that block verification.

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

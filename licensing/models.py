"""The licensed lane: data plans, the licences bought on them, their tokens, the monthly quota
ledger and the signed receipts of what was delivered (docs/licensing.md)."""

from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import ApiToken, User
from core.grace import grace_end
from core.money import price_text


class DataPlan(models.Model):
    """A data plan: how many posts a month a licensee may take, and its price.

    Rows, not constants (like tiers): an admin changes a quota or a price without a deploy;
    a quota change applies to the next request.
    """

    slug = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=50)
    monthly_post_quota = models.PositiveIntegerField(
        help_text="Distinct posts per UTC day, summed over the calendar month (UTC)."
    )
    price_minor = models.PositiveIntegerField(help_text="Price per month in cents.")
    currency = models.CharField(max_length=3, default="usd")
    stripe_price_id = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True, help_text="Offered to buyers.")
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def price_display(self) -> str:
        """The monthly price as a person reads it ("$5,000.00 / month"), as verification's."""
        return price_text(price_minor=self.price_minor, currency=self.currency, interval="month")


class Licence(models.Model):
    """One account's purchase of a data plan, from checkout to its end.

    Bought monthly: each paid renewal moves ``current_period_end`` on; a failed payment makes
    it past due, still usable until ``grace_until``; a cancellation stops renewals and the
    licence ends when its paid period does. Whether its tokens work *now* is
    ``access_ends_at`` / ``is_usable`` (checked on every request, so no beat task has to
    run first); ``licences_expire`` only moves the status along for the pages.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Checkout started"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Payment failed (in grace period)"
        LAPSED = "lapsed", "Lapsed (payment not received)"
        CHECKOUT_CANCELED = "checkout_canceled", "Checkout cancelled"
        ENDED = "ended", "Ended"

    LIVE_STATUSES = (Status.ACTIVE, Status.PAST_DUE)

    PROVIDER_DEV = "dev"
    PROVIDER_STRIPE = "stripe"
    PROVIDERS = [(PROVIDER_DEV, "Dev (test mode)"), (PROVIDER_STRIPE, "Stripe")]

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="licences")
    plan = models.ForeignKey(DataPlan, on_delete=models.PROTECT, related_name="licences")
    provider = models.CharField(max_length=20, choices=PROVIDERS)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    checkout_ref = models.CharField(max_length=64, unique=True)
    provider_checkout_id = models.CharField(max_length=255, blank=True)
    provider_customer_id = models.CharField(max_length=255, blank=True)
    provider_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Paid up to here. None: no end (a licence made by hand in the admin or a test).
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    grace_until = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="licence_user_created")]

    def __str__(self) -> str:
        return f"{self.user} · {self.plan} ({self.status})"

    @property
    def is_active(self) -> bool:
        """Bought and not over (its tokens may still be refused once the period is past:
        ``is_usable``)."""
        return self.status in self.LIVE_STATUSES

    def access_ends_at(self) -> datetime | None:
        """Until when the licence's tokens work (None: no end), from its status and dates.

        Active: the paid period's end — plus the grace period when it renews (the renewal's
        webhook may be late) but not when it was cancelled. Past due: the grace period's end.
        Anything else: already over.
        """
        if self.status == self.Status.ACTIVE:
            if self.current_period_end is None:
                return None
            if self.cancel_at_period_end:
                return self.current_period_end
            return self.grace_end()
        if self.status == self.Status.PAST_DUE:
            return self.grace_until or self.current_period_end or self.ended_at or _EPOCH
        return self.ended_at or _EPOCH

    def grace_end(self, *, failed_at: datetime | None = None) -> datetime:
        """When the grace for an unpaid renewal runs out: LICENSING_GRACE_DAYS from the failed
        payment or the period's end, whichever came first (``core.grace.grace_end``). The one
        rule for a failure reported (``licence_payment_fail``) and for a renewal never
        reported (``access_ends_at``)."""
        return grace_end(
            days=settings.LICENSING_GRACE_DAYS,
            period_end=self.current_period_end,
            failed_at=failed_at,
        )

    def is_usable(self, now: datetime | None = None) -> bool:
        """Whether the licence's tokens may take posts at ``now``."""
        if self.status not in self.LIVE_STATUSES:
            return False
        ends = self.access_ends_at()
        return ends is None or (now or timezone.now()) < ends


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LicenceToken(models.Model):
    """An API token the licensee created for one licence: requests with it draw on that
    licence's quota at the licensed endpoint (and nowhere else)."""

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="tokens")
    token = models.OneToOneField(ApiToken, on_delete=models.CASCADE, related_name="licence_link")

    def __str__(self) -> str:
        return f"{self.token} → {self.licence_id}"


class LicenceMonth(models.Model):
    """A licence's count of posts charged in one calendar month (UTC), and its lock: the
    database quota ledger locks this row for a whole charge, so concurrent requests on one
    licence queue here and never overshoot the quota."""

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="months")
    month = models.DateField(help_text="The first day of the month (UTC).")
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["licence", "month"], name="licencemonth_unique")
        ]

    def __str__(self) -> str:
        return f"{self.licence_id} {self.month:%Y-%m}: {self.used}"


class LicenceCharge(models.Model):
    """One post charged to a licence on one UTC day: a post is charged once per day."""

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="charges")
    day = models.DateField()
    post_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["licence", "day", "post_id"], name="licencecharge_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.licence_id} {self.day}: {self.post_id}"


class LicenceUsageDay(models.Model):
    """Posts charged to a licence per UTC day, for the usage chart (written with each charge,
    whichever ledger charged)."""

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="usage_days")
    day = models.DateField()
    posts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["licence", "day"], name="licenceusageday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.licence_id} {self.day}: {self.posts}"


class Receipt(models.Model):
    """A signed receipt for one licensed delivery: which posts went to which licence, when,
    on which plan and terms. Kept so a licensee's proof and our records agree, and so a
    leaked dump can be matched against what was licensed."""

    receipt_id = models.CharField(max_length=32, unique=True)
    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="receipts")
    issued_at = models.DateTimeField()
    post_ids = models.JSONField()
    payload = models.TextField(help_text="The signed bytes (canonical JSON).")
    signature = models.CharField(max_length=128, help_text="Ed25519, base64url.")
    key_id = models.CharField(max_length=32)

    class Meta:
        indexes = [models.Index(fields=["licence", "-issued_at"], name="receipt_licence_issued")]

    def __str__(self) -> str:
        return self.receipt_id

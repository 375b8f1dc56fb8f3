"""Paid verification: what it costs (plans), who bought it (subscriptions) and the payment
provider events already processed.

The tables were created by accounts/ (migration 0003) and kept their names when the models
moved here (``db_table``), so no row was lost.
"""

from django.db import models

from accounts.models import User
from core.money import price_text


class Plan(models.Model):
    """What paid verification costs. Price and currency are rows an admin edits, not constants.

    ``price_minor`` is in the currency's minor unit (cents), as payment providers count it.
    ``stripe_price_id`` is optional: without it, Stripe Checkout is given the price inline.
    """

    INTERVAL_MONTH = "month"
    INTERVAL_YEAR = "year"
    INTERVALS = [(INTERVAL_MONTH, "Monthly"), (INTERVAL_YEAR, "Yearly")]

    slug = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=50)
    price_minor = models.PositiveIntegerField(help_text="In minor units: 800 means $8.00.")
    currency = models.CharField(max_length=3, default="usd", help_text="ISO 4217, lower case.")
    interval = models.CharField(max_length=10, choices=INTERVALS, default=INTERVAL_MONTH)
    stripe_price_id = models.CharField(
        max_length=100, blank=True, help_text="Optional Stripe Price id (price_…)."
    )
    is_active = models.BooleanField(default=True, help_text="Offered at checkout.")

    class Meta:
        db_table = "accounts_plan"  # created by accounts/ (migration 0003)
        ordering = ["price_minor", "slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.price_display})"

    @property
    def price_display(self) -> str:
        """The price as a person reads it: "$8.00 / month" (other currencies: "8.00 EUR")."""
        return price_text(
            price_minor=self.price_minor, currency=self.currency, interval=self.interval
        )


class Subscription(models.Model):
    """One account's paid (or admin-granted) verification, from checkout to its end.

    Only the verification services change it; they keep ``User.is_verified`` in step: the badge
    shows while a subscription is *live* (active, or past due within its grace period) and not
    on hold.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Checkout started"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due (in grace period)"
        LAPSED = "lapsed", "Lapsed (payment not received)"
        ENDED = "ended", "Ended"
        CHECKOUT_CANCELED = "checkout_canceled", "Checkout cancelled"
        DECLINED = "declined", "Payment declined"
        REVOKED = "revoked", "Revoked by an admin"

    LIVE_STATUSES = (Status.ACTIVE, Status.PAST_DUE)

    PROVIDER_DEV = "dev"
    PROVIDER_STRIPE = "stripe"
    PROVIDER_MANUAL = "manual"
    PROVIDERS = [
        (PROVIDER_DEV, "Dev (test mode)"),
        (PROVIDER_STRIPE, "Stripe"),
        (PROVIDER_MANUAL, "Granted by an admin"),
    ]

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="subscriptions")
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT)
    provider = models.CharField(max_length=20, choices=PROVIDERS)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # Opaque reference for our own checkout URLs (dev provider) and Stripe's client_reference_id.
    checkout_ref = models.CharField(max_length=64, unique=True)
    provider_checkout_id = models.CharField(max_length=255, blank=True)
    provider_customer_id = models.CharField(max_length=255, blank=True)
    provider_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # None on an admin grant without an end date: it never expires by itself.
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    grace_until = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Set when a verified account changes its username: no badge until an admin re-approves.
    badge_on_hold = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "accounts_subscription"  # created by accounts/ (migration 0003)
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "status"], name="subscription_user_status"),
            # The expiry task scans live subscriptions by their deadlines.
            models.Index(fields=["status", "current_period_end"], name="subscription_expiry"),
            models.Index(fields=["status", "grace_until"], name="subscription_grace"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_status_display()} ({self.provider})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES


class PaymentWebhookEvent(models.Model):
    """A payment provider event we have processed, kept so a replayed event changes nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "accounts_paymentwebhookevent"  # created by accounts/ (migration 0003)
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"

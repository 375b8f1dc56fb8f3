"""Users and their personal API tokens."""

import hashlib

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from .validators import validate_username

# One sentence for every way an address can be taken (same address, other case, "+tag",
# Gmail dots): it does not say which spelling matched, or whose account it is.
EMAIL_TAKEN_MESSAGE = "An account with this email address already exists. Use a different one."
EMAIL_TAKEN_CODE = "email_taken"


class Tier(models.Model):
    """A reading tier: how many distinct posts its readers may read per UTC day.

    Tiers are rows, not constants, so an admin can change a budget without a deploy; the
    change takes effect on the next request. ``daily_read_budget`` None means unlimited.
    """

    ANONYMOUS = "anonymous"
    NEW = "new"
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    RESTRICTED = "restricted"
    UNLIMITED = "unlimited"

    slug = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=50)
    daily_read_budget = models.PositiveIntegerField(
        null=True, blank=True, help_text="Distinct posts per UTC day. Empty means unlimited."
    )
    description = models.CharField(max_length=200, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_unlimited(self) -> bool:
        return self.daily_read_budget is None


class User(AbstractUser):
    """An account: someone who posts, follows and reads.

    Usernames and emails are unique without regard to case, and one mailbox holds one
    account: ``email`` is the address as typed (mail goes there), ``email_canonical`` the
    mailbox behind it (``accounts.selectors.email_canonical``), unique when not blank.
    Follower/following/post counts are kept on the row (updated atomically by the feeds
    services) so profiles cost no COUNT.
    """

    username = models.CharField(
        max_length=30,
        unique=True,
        validators=[validate_username],
        help_text="1-30 characters: ASCII letters, digits and underscores.",
        error_messages={"unique": "That username is taken."},
    )
    email = models.EmailField()
    # Derived from ``email`` on every save that changes it (see ``save``), never typed. Blank
    # only for a duplicate mailbox that existed before this rule (migration 0005 kept the
    # oldest account's) and on rows bulk-inserted without it (seed_scale).
    email_canonical = models.CharField(
        max_length=320, blank=True, default="", db_default="", editable=False
    )
    display_name = models.CharField(max_length=50, blank=True)
    bio = models.CharField(max_length=160, blank=True)
    followers_count = models.PositiveIntegerField(default=0)
    following_count = models.PositiveIntegerField(default=0)
    posts_count = models.PositiveIntegerField(default=0)
    # The paid badge, shown next to the name everywhere. Kept on the row (set and cleared only
    # by the verification services) so showing it costs no query per post.
    is_verified = models.BooleanField(default=False)
    # Set by an admin (e.g. "restricted" for a suspected scraper); wins over everything else.
    tier_override = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Whether this account's posts may be used to train AI models (docs/licensing.md): True
    # allow, False disallow, None follow the site default (settings.AI_TRAINING_DEFAULT).
    # Read from the author row every response, so a change applies to the next one.
    ai_training_allowed = models.BooleanField(null=True, blank=True, default=None)

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_code=EMAIL_TAKEN_CODE,
                violation_error_message=EMAIL_TAKEN_MESSAGE,
            ),
            # Also the index sign-up looks the mailbox up by (a partial index: blanks skipped).
            models.UniqueConstraint(
                fields=["email_canonical"],
                condition=~Q(email_canonical=""),
                name="user_email_canonical_unique",
                violation_error_code=EMAIL_TAKEN_CODE,
                violation_error_message=EMAIL_TAKEN_MESSAGE,
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        user._stored_email = user.__dict__.get("email")  # absent when deferred
        return user

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        if fields is None or "email" in fields:
            self._stored_email = self.email

    def _email_canonical_sync(self) -> bool:
        """Recompute ``email_canonical`` when ``email`` is new or changed; True if it did.

        An unchanged address keeps its stored form, so an account that migration 0005 left
        blank (a duplicate from before the rule) keeps working until its address changes.
        """
        from .selectors import email_canonical  # selectors imports this module

        if "email" in self.get_deferred_fields():
            return False
        if not self._state.adding and self.email == getattr(self, "_stored_email", None):
            return False
        self.email_canonical = email_canonical(self.email)
        return True

    def save(self, *args, **kwargs):
        # A derived column, not a rule: kept in step here so that every path that writes an
        # address (services, the admin, createsuperuser, factories) stores its mailbox too.
        update_fields = kwargs.get("update_fields")
        writes_email = update_fields is None or "email" in update_fields
        if writes_email and self._email_canonical_sync() and update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "email_canonical"}
        super().save(*args, **kwargs)
        if "email" not in self.get_deferred_fields():
            self._stored_email = self.email

    def validate_constraints(self, exclude=None):
        """Check the constraints for a model form (the admin's). ``email_canonical`` is on no
        form, so it is checked whenever ``email`` is, and a taken mailbox is reported on
        ``email`` (once, however many constraints it breaks) instead of on the whole form."""
        exclude = set(exclude or ())
        if "email" not in exclude:
            self._email_canonical_sync()
            exclude.discard("email_canonical")
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            taken = [error for error in general if error.code == EMAIL_TAKEN_CODE]
            others = [error for error in general if error.code != EMAIL_TAKEN_CODE]
            if others:
                errors[NON_FIELD_ERRORS] = others
            if taken:
                errors.setdefault("email", []).append(taken[0])
            raise ValidationError(errors) from exc

    @property
    def name(self) -> str:
        """The name to show: the display name, or the username when none is set."""
        return self.display_name or self.username


class ApiToken(models.Model):
    """A personal access token for the REST API. Only a SHA-256 hash of the secret is kept."""

    SCOPE_READ = "read"
    SCOPE_WRITE = "write"
    SCOPES = (SCOPE_READ, SCOPE_WRITE)

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=8, help_text="First characters, to recognise it.")
    scopes = models.CharField(max_length=50, help_text="Space-separated: read, write.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash_secret(raw: str) -> str:
        """The stored form of a secret: tokens are high-entropy, so plain SHA-256 suffices."""
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()

    def has_scope(self, scope: str) -> bool:
        """True when the token grants ``scope`` ("read" or "write")."""
        return scope in self.scope_list


# --- Paid verification ------------------------------------------------------------------------


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
        ordering = ["price_minor", "slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.price_display})"

    @property
    def price_display(self) -> str:
        """The price as a person reads it: "$8.00 / month" (other currencies: "8.00 EUR")."""
        amount = f"{self.price_minor // 100}.{self.price_minor % 100:02d}"
        money = f"${amount}" if self.currency.lower() == "usd" else f"{amount} {self.currency}"
        return f"{money} / {self.interval}"


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


class EmailConfirmation(models.Model):
    """A one-time, expiring link that proves an account owns its email address.

    Only a SHA-256 hash of the token is stored. It confirms ``email`` (the address it was sent
    to): if the account's email changes afterwards, the old confirmation no longer counts.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_confirmations")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "used_at"], name="emailconfirm_user_used")]

    def __str__(self) -> str:
        return f"{self.email} ({'confirmed' if self.used_at else 'pending'})"


class AdminActionLog(models.Model):
    """An append-only record of an admin's action: who did what to what, when and why.

    Generic on purpose (any target model, free-form JSON details) so the audit work can log
    restrictions, suspensions and exports here too. Written inside the action's transaction.
    """

    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=50, db_index=True)
    target_content_type = models.ForeignKey(
        "contenttypes.ContentType", null=True, blank=True, on_delete=models.SET_NULL
    )
    target_object_id = models.CharField(max_length=64, blank=True)
    # Kept as text so the record still reads right after the target is renamed or deleted.
    target_repr = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["target_content_type", "target_object_id"], name="adminlog_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_repr}"


class PaymentWebhookEvent(models.Model):
    """A payment provider event we have processed, kept so a replayed event changes nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"

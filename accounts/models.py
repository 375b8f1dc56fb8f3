"""Users, their tiers, their personal API tokens and their email confirmations."""

import hashlib

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.storage import default_storage
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.templatetags.static import static

from .emails import email_canonical
from .oauth.scopes import scope_covers
from .validators import validate_username

DEFAULT_AVATAR = "api/avatar.png"
DEFAULT_HEADER = "api/header.png"

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
    mailbox behind it (``accounts.emails.email_canonical``), unique when not blank.
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
    # Storage names of the re-encoded profile images (``accounts.images``); blank: the default.
    avatar = models.CharField(max_length=200, blank=True, default="", db_default="")
    header = models.CharField(max_length=200, blank=True, default="", db_default="")
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

    @property
    def avatar_url(self) -> str:
        """Where the avatar is served (a path, or the storage's URL), or the default one."""
        return default_storage.url(self.avatar) if self.avatar else static(DEFAULT_AVATAR)

    @property
    def header_url(self) -> str:
        return default_storage.url(self.header) if self.header else static(DEFAULT_HEADER)


class ApiToken(models.Model):
    """An access token for the REST API. Only a SHA-256 hash of the secret is kept.

    Personal tokens are made on the settings page (``application`` empty); OAuth apps obtain
    theirs at ``/oauth/token`` (``accounts.oauth``), with Mastodon's granular scopes. An app's
    client-credentials token has no user and reads as the anonymous caller.
    """

    SCOPE_READ = "read"
    SCOPE_WRITE = "write"
    SCOPES = (SCOPE_READ, SCOPE_WRITE)

    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    application = models.ForeignKey(
        "accounts.OAuthApplication",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tokens",
    )
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=8, help_text="First characters, to recognise it.")
    scopes = models.CharField(max_length=1000, help_text="Space-separated: read, write, …")
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
        """True when the token grants ``scope`` ("read", "write:statuses", …): ``read`` covers
        every ``read:*`` scope (``accounts.oauth.scopes.scope_covers``)."""
        return scope_covers(self.scope_list, scope)


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


# OAuth apps and codes live in their own module; imported here so Django registers them.
from .oauth.models import OAuthApplication, OAuthAuthorizationCode  # noqa: E402, F401

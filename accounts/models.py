"""Users and their personal API tokens."""

import hashlib

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

from .validators import validate_username


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

    Usernames and emails are unique without regard to case. Follower/following/post counts
    are kept on the row (updated atomically by the feeds services) so profiles cost no COUNT.
    """

    username = models.CharField(
        max_length=30,
        unique=True,
        validators=[validate_username],
        help_text="1-30 characters: ASCII letters, digits and underscores.",
        error_messages={"unique": "That username is taken."},
    )
    email = models.EmailField()
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

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

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

"""The database read ledger (who read which posts on which UTC day) and the audit records."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ReadDay(models.Model):
    """One reader's count of distinct posts read on one UTC day.

    The row is also the reader's lock: the database ledger locks it (``select_for_update``)
    for the whole gate call, so one reader's concurrent requests queue here and never
    overshoot the budget, while different readers never wait for each other.
    """

    principal = models.CharField(max_length=64, help_text='"user:<id>" or "ip:<prefix>".')
    day = models.DateField(help_text="The UTC day the reads count against.")
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "day"], name="readday_principal_day")
        ]
        # The purge task deletes whole past days.
        indexes = [models.Index(fields=["day"], name="readday_day")]

    def __str__(self) -> str:
        return f"{self.principal} {self.day:%Y-%m-%d}: {self.used}"


class ReadReceipt(models.Model):
    """One post charged to one reader on one UTC day: later re-reads that day are free.

    ``post_id`` is a plain integer, not a foreign key: a deleted post was still read.
    """

    principal = models.CharField(max_length=64)
    day = models.DateField()
    post_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "day", "post_id"], name="readreceipt_principal_day_post"
            )
        ]
        indexes = [models.Index(fields=["day"], name="readreceipt_day")]

    def __str__(self) -> str:
        return f"{self.principal} {self.day:%Y-%m-%d} read {self.post_id}"


class AccessLogEntry(models.Model):
    """One metered request: who read what, through which route, and what the gate decided.

    Append-only: written once per pass through the read gate (refusals included), never
    edited; only the retention purge deletes, and on PostgreSQL a trigger refuses everything
    else. ``record_id`` makes the write idempotent, so a record drained twice from the Redis
    stream is stored once. ``user_id``/``token_id``/``application_id`` are not constrained: the
    log outlives them.
    """

    record_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    principal = models.CharField(max_length=64, help_text='"user:<id>" or "ip:<prefix>".')
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    token_id = models.BigIntegerField(null=True, blank=True)
    # The OAuth app whose token made the request (accounts.OAuthApplication), if any.
    application_id = models.BigIntegerField(null=True, blank=True)
    tier = models.CharField(max_length=30)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    ip_prefix = models.CharField(max_length=50, help_text="IPv4 /24 or IPv6 /64, for grouping.")
    user_agent = models.CharField(max_length=300, blank=True)
    route_name = models.CharField(max_length=100, blank=True)
    path = models.CharField(max_length=500)
    paging = models.JSONField(default=dict, blank=True, help_text="max_id, min_id, since_id, limit")
    status = models.PositiveSmallIntegerField()
    delivered = models.PositiveIntegerField(default=0)
    newly_charged = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    remaining = models.IntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    mode = models.CharField(max_length=10, help_text="enforce or dry-run")

    class Meta:
        verbose_name = "access log entry"
        verbose_name_plural = "access log"
        permissions = [("review_scrape_logs", "Can review scrape logs, flags and act on them")]
        indexes = [
            # The review screens: recent first, one user's history, one IP prefix's history.
            models.Index(fields=["created_at"], name="accesslog_created"),
            models.Index(fields=["user", "created_at"], name="accesslog_user_created"),
            models.Index(fields=["ip_prefix", "created_at"], name="accesslog_prefix_created"),
            # Per-app reading on the review screens and the app detector's history.
            models.Index(fields=["application_id", "created_at"], name="accesslog_app_created"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.principal} {self.path} {self.status}"


class Flag(models.Model):
    """A detector's suspicion about one principal under one rule, with the evidence behind it.

    One open flag per principal and rule: as evidence grows the detector updates it (score,
    span, figures, the log records behind it). Reviewers dismiss it or act on it; what they
    did is written to the admin action log and shown here.
    """

    OPEN = "open"
    DISMISSED = "dismissed"
    ACTIONED = "actioned"
    STATUSES = [(OPEN, "Open"), (DISMISSED, "Dismissed"), (ACTIONED, "Actioned")]

    principal = models.CharField(max_length=64, help_text='"user:<id>", "ip:<prefix>", …')
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    ip_prefix = models.CharField(max_length=50, blank=True)
    token_id = models.BigIntegerField(null=True, blank=True)
    rule = models.CharField(max_length=40)
    score = models.FloatField(help_text="0-100: how sure the detector is, for sorting the queue.")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    evidence = models.JSONField(default=dict, help_text="Figures and the log record ids.")
    status = models.CharField(max_length=10, choices=STATUSES, default=OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "rule"],
                condition=models.Q(status="open"),
                name="flag_one_open_per_principal_rule",
            )
        ]
        indexes = [
            # The review queue: open flags, highest score and newest first.
            models.Index(fields=["status", "-score", "-last_seen"], name="flag_queue"),
            models.Index(fields=["user", "status"], name="flag_user_status"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.principal} ({self.score:.0f}, {self.status})"


class DetectorCursor(models.Model):
    """How far a detector has read the access log, so each run reads only what is new."""

    name = models.CharField(max_length=40, unique=True)
    last_entry_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_entry_id}"


class IPBlock(models.Model):
    """A blocked IP prefix: requests from it get a clear 403 (page or JSON) from middleware."""

    prefix = models.CharField(max_length=50, unique=True, help_text="e.g. 203.0.113.0/24")
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until removed.")

    class Meta:
        verbose_name = "IP block"

    def __str__(self) -> str:
        return self.prefix


class PostIdsField(models.Field):
    """A list of post ids: ``bigint[]`` on PostgreSQL (GIN-indexable), comma-separated text on
    SQLite (the embedded default, where the tracer reads it in Python)."""

    description = "A list of post ids"

    def db_type(self, connection):
        return "bigint[]" if connection.vendor == "postgresql" else "text"

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        ids = [int(pid) for pid in value]
        if connection.vendor == "postgresql":
            return ids
        return ",".join(str(pid) for pid in ids)

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def to_python(self, value):
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, str):
            return [int(pid) for pid in value.split(",") if pid]
        return [int(pid) for pid in value]


class DeliveryProvenance(models.Model):
    """Which posts one metered request delivered to its reader for the first time that day.

    One row per access-log record that newly charged posts (same ``record_id``), written with
    it by the same path: in the ledger's transaction, or by the Redis stream drain in the
    transaction that stores the record (idempotent by ``record_id``). It is what lets
    ``trace_leak`` say who received a leaked post. Append-only (a PostgreSQL trigger refuses
    UPDATE and any DELETE but the retention purge's); kept ``ACCESS_PROVENANCE_DAYS``.
    Personal data: only reviewers with the review permission see it (docs/audit.md).
    """

    record_id = models.CharField(max_length=64, unique=True)
    day = models.DateField(help_text="The UTC day the posts were charged to.")
    created_at = models.DateTimeField()
    principal = models.CharField(max_length=64, help_text='"user:<id>" or "ip:<prefix>".')
    user_id = models.BigIntegerField(null=True, blank=True)
    token_id = models.BigIntegerField(null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    ip_prefix = models.CharField(max_length=50, help_text="IPv4 /24 or IPv6 /64.")
    post_count = models.PositiveIntegerField(help_text="len(post_ids), for reading volumes.")
    post_ids = PostIdsField(help_text="The post ids newly delivered, in page order.")

    class Meta:
        verbose_name = "delivery provenance"
        verbose_name_plural = "delivery provenance"
        indexes = [
            # Reading volume of one reader over a window; the purge deletes by day. The
            # reverse look-up (who received post X) is a GIN index on post_ids (PostgreSQL,
            # migration access_provenance_append_only_gin).
            models.Index(fields=["principal", "day"], name="provenance_principal_day"),
            models.Index(fields=["day"], name="provenance_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.principal}: {self.post_count} posts"


class CrawlerAgent(models.Model):
    """A crawler or scraping tool known by its User-Agent: the one list behind ``robots.txt``
    and the scraper-user-agent detector (``access/crawlers.py``).

    Rows, not constants, so an admin can add the next AI crawler without a deploy. ``token``
    is the robots.txt product token (e.g. "GPTBot"); a User-Agent containing it (any case)
    matches. Scraping libraries (e.g. "python-requests") do not read robots.txt, so they are
    kept out of it (``in_robots_txt``) but still flagged.
    """

    AI_TRAINING = "ai-training"
    AI_ASSISTANT = "ai-assistant"
    SCRAPER = "scraper"
    PURPOSES = [
        (AI_TRAINING, "Collects data to train AI models"),
        (AI_ASSISTANT, "Fetches pages for AI answers and search"),
        (SCRAPER, "Scraping library or headless browser"),
    ]

    token = models.CharField(
        max_length=64, unique=True, help_text='robots.txt product token, e.g. "GPTBot".'
    )
    operator = models.CharField(max_length=100, blank=True, help_text='e.g. "OpenAI".')
    purpose = models.CharField(max_length=20, choices=PURPOSES, default=AI_TRAINING)
    in_robots_txt = models.BooleanField(
        default=True, help_text="Named in robots.txt with Disallow: / (crawlers that read it)."
    )
    active = models.BooleanField(default=True, help_text="Off: neither listed nor flagged.")

    class Meta:
        ordering = ["purpose", "token"]

    def __str__(self) -> str:
        return self.token

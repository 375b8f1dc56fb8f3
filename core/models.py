"""The audit records every layer writes: account security events and the admin action log.

They live at the bottom so that any app can record one without importing another app; each
has one write function in ``core.audit``. Both keep the tables they were created with
(``db_table``), so moving them here lost no row.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SecurityEvent(models.Model):
    """Account events worth auditing beside the access log: log-ins (successes and failures),
    tokens created and revoked, tier and verification changes, password and email changes."""

    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    TOKEN_CREATED = "token_created"  # noqa: S105 - an event name, not a secret
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - an event name, not a secret
    TIER_CHANGED = "tier_changed"
    VERIFICATION_CHANGED = "verification_changed"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name, not a secret
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name, not a secret
    EMAIL_CHANGED = "email_changed"
    KINDS = [
        (LOGIN_SUCCEEDED, "Log-in succeeded"),
        (LOGIN_FAILED, "Log-in failed"),
        (TOKEN_CREATED, "Token created"),
        (TOKEN_REVOKED, "Token revoked"),
        (TIER_CHANGED, "Tier changed"),
        (VERIFICATION_CHANGED, "Verification changed"),
        (PASSWORD_CHANGED, "Password changed"),
        (PASSWORD_RESET, "Password reset by email link"),
        (EMAIL_CHANGED, "Email address changed"),
    ]

    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=30, choices=KINDS)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True, help_text="As typed, for failures.")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "access_securityevent"  # created by access/ (migration 0002)
        indexes = [
            models.Index(fields=["created_at"], name="securityevent_created"),
            models.Index(fields=["user", "created_at"], name="securityevent_user_created"),
            models.Index(fields=["kind", "created_at"], name="securityevent_kind_created"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.username or self.user_id}"


class AdminActionLog(models.Model):
    """An append-only record of an admin's action: who did what to what, when and why.

    Generic on purpose (any target model, JSON details). Every action an admin or a reviewer
    can take has its name in ``Action`` and one service that performs it and writes this
    record inside the action's own transaction.
    """

    class Action(models.TextChoices):
        TIER_OVERRIDE = "tier_override", "Tier override changed"
        ACCOUNT_SUSPEND = "account_suspend", "Account suspended"
        TOKENS_REVOKE = "tokens_revoke", "Tokens revoked"  # noqa: S105 - an action name
        VERIFICATION_GRANT = "verification_grant", "Verification granted"
        VERIFICATION_REVOKE = "verification_revoke", "Verification revoked"
        VERIFICATION_BADGE_APPROVE = "verification_badge_approve", "Badge re-approved"
        IP_BLOCK_ADD = "ip_block_add", "IP prefix blocked"
        IP_BLOCK_CHANGE = "ip_block_change", "IP block changed"
        IP_BLOCK_REMOVE = "ip_block_remove", "IP block lifted"
        FLAG_DISMISS = "flag_dismiss", "Dismiss"
        FLAG_RESTRICT_TIER = "flag_restrict_tier", "Restrict the account's tier"
        FLAG_SUSPEND = "flag_suspend_account", "Suspend the account"
        FLAG_REVOKE_TOKENS = "flag_revoke_tokens", "Revoke the account's tokens"
        FLAG_BLOCK_PREFIX = "flag_block_ip_prefix", "Block the IP prefix"
        ACCESS_LOG_EXPORT = "access_log_export", "Access log exported"
        ACCESS_LOG_PURGE = "access_log_purge", "Access log purged (retention)"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=50, db_index=True, choices=Action.choices)
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
        db_table = "accounts_adminactionlog"  # created by accounts/ (migration 0003)
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["target_content_type", "target_object_id"], name="adminlog_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_repr}"

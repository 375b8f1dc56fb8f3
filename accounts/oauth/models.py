"""The rows OAuth needs beside ``ApiToken``: registered apps and their authorization codes."""

import hashlib

from django.conf import settings
from django.db import models


def secret_hash(raw: str) -> str:
    """The stored form of a client secret or a code: high-entropy, so plain SHA-256 suffices."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class OAuthApplication(models.Model):
    """An app registered through ``POST /api/v1/apps`` (toot, Tusky, Elk…): a unit of bulk
    access, since one app can read for many accounts.

    Only a hash of the client secret is kept. ``redirect_uris`` and ``scopes`` are
    space-separated, as clients send them. A suspended app's tokens stop working.
    """

    name = models.CharField(max_length=100)
    website = models.CharField(max_length=500, blank=True)
    redirect_uris = models.TextField(help_text="Space-separated; each matched exactly.")
    scopes = models.CharField(max_length=1000, help_text="Space-separated, as registered.")
    client_id = models.CharField(max_length=64, unique=True)
    client_secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "OAuth application"

    def __str__(self) -> str:
        return f"{self.name} (app {self.pk})"

    @property
    def redirect_uri_list(self) -> list[str]:
        return self.redirect_uris.split()

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class OAuthAuthorizationCode(models.Model):
    """A one-time code the consent page hands to an app, exchanged at ``/oauth/token``.

    Bound to its app, its user and the exact redirect URI it was sent to; short-lived; used
    once (``used_at``). ``token`` is what it was exchanged for, so a replayed code can revoke
    it (RFC 9700 §4.2). Only a hash of the code is kept.
    """

    code_hash = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(
        OAuthApplication, on_delete=models.CASCADE, related_name="codes"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.TextField()
    scopes = models.CharField(max_length=1000)
    # PKCE (RFC 7636), S256 only; blank when the client sent no challenge.
    code_challenge = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    token = models.ForeignKey(
        "accounts.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "OAuth authorization code"

    def __str__(self) -> str:
        return f"code for {self.application} ({'used' if self.used_at else 'unused'})"

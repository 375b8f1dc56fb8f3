"""Tests for secure-by-default settings: deploy checks, refusal without a key, headers."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECURE_COOKIES"}}
    env.pop("SECURE_SSL_REDIRECT", None)
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="microblog.example",
        DJANGO_SETTINGS_MODULE="microblog.settings",
        # Production sells verification through a real provider (the dev one is TEST MODE).
        PAYMENTS_PROVIDER="stripe",
        STRIPE_SECRET_KEY="sk_test_placeholder",
        STRIPE_WEBHOOK_SECRET="whsec_placeholder",
    )
    env.update(extra)
    return env


def test_deploy_checks_pass_with_production_settings():
    """Ensures that `check --deploy --fail-level WARNING` passes with production settings."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("key", ["", "change-me", "short"])
def test_refuses_to_start_without_a_real_secret_key(key):
    """Ensures that with DEBUG off the app will not start on a missing or placeholder key."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_production_env(SECRET_KEY=key),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def _manage_check(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("provider", [None, "", "dev", "DEV"])
def test_refuses_to_start_with_the_dev_payment_provider(provider):
    """Ensures that with DEBUG off the app will not start when the payment provider is the dev
    one (unset means dev): its TEST MODE checkout would verify anyone for free."""
    env = _production_env()
    for name in ("PAYMENTS_PROVIDER", "PAYMENTS_DEV_ALLOWED", "STRIPE_SECRET_KEY"):
        env.pop(name, None)
    if provider is not None:
        env["PAYMENTS_PROVIDER"] = provider
    result = _manage_check(env)
    assert result.returncode != 0
    assert "PAYMENTS_PROVIDER is 'dev'" in result.stderr
    assert "PAYMENTS_DEV_ALLOWED=1" in result.stderr


def test_dev_payment_provider_starts_when_declared_a_demo_or_with_debug():
    """Ensures that the dev provider starts with DEBUG off only when PAYMENTS_DEV_ALLOWED=1
    says this is a demo, and always with DEBUG on (make run)."""
    env = _production_env(PAYMENTS_PROVIDER="dev", PAYMENTS_DEV_ALLOWED="1")
    result = _manage_check(env)
    assert result.returncode == 0, result.stderr
    env = _production_env(PAYMENTS_PROVIDER="dev", DEBUG="1")
    env.pop("PAYMENTS_DEV_ALLOWED", None)
    result = _manage_check(env)
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_html_responses_carry_security_headers(client, settings):
    """Ensures that pages send CSP without inline script, HSTS, framing and sniffing guards."""
    settings.SECURE_HSTS_SECONDS = 31_536_000
    response = client.get("/accounts/login/", secure=True)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if "script-src" in part)
    assert "'unsafe-inline'" not in script_src and "'self'" in script_src
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")

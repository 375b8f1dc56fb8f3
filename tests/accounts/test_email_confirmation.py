"""Tests for email confirmation: a one-time link that expires."""

import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import EmailConfirmation
from accounts.selectors import email_is_confirmed
from accounts.services import email_confirm, email_confirmation_send
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _link_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


def test_send_emails_a_link_and_stores_only_a_hash():
    """Ensures that the confirmation mail carries a link whose token is stored hashed."""
    user = UserFactory()
    confirmation = email_confirmation_send(user=user)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    path = _link_path(mail.outbox[0])
    raw = path.rstrip("/").rsplit("/", 1)[-1]
    assert raw not in confirmation.token_hash
    assert len(confirmation.token_hash) == 64


def test_link_confirms_once_through_the_pages(client):
    """Ensures that the link shows a button (GET changes nothing), confirms on POST, and
    refuses a second use with a clear message."""
    user = UserFactory()
    email_confirmation_send(user=user)
    path = _link_path(mail.outbox[0])

    response = client.get(path)
    assert response.status_code == 200
    assert user.email in response.content.decode()
    assert not email_is_confirmed(user=user)

    response = client.post(path)
    assert response.status_code == 302
    assert email_is_confirmed(user=user)

    response = client.post(path)
    assert response.status_code == 400
    assert "already been used" in response.content.decode()


def test_link_expires():
    """Ensures that a link stops working after EMAIL_CONFIRMATION_DAYS."""
    user = UserFactory()
    email_confirmation_send(user=user)
    raw = _link_path(mail.outbox[0]).rstrip("/").rsplit("/", 1)[-1]
    later = timezone.now() + timedelta(days=3, seconds=1)
    with time_machine.travel(later), pytest.raises(ValidationError, match="expired"):
        email_confirm(raw_token=raw)
    assert not email_is_confirmed(user=user)


def test_a_new_link_replaces_the_old_one():
    """Ensures that only the newest link works once another is sent."""
    user = UserFactory()
    email_confirmation_send(user=user)
    email_confirmation_send(user=user)
    first, second = (_link_path(m).rstrip("/").rsplit("/", 1)[-1] for m in mail.outbox)
    with pytest.raises(ValidationError, match="expired"):
        email_confirm(raw_token=first)
    assert email_confirm(raw_token=second) == user


def test_unknown_token_is_refused_with_a_400_page(client):
    """Ensures that a made-up token gets a clear 400 page, not a 500."""
    response = client.get(reverse("accounts:email_confirm", kwargs={"token": "nope"}))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_changing_the_email_voids_the_confirmation():
    """Ensures that a confirmed address stops counting once the account's email changes."""
    user = UserFactory()
    email_confirmation_send(user=user)
    email_confirm(raw_token=_link_path(mail.outbox[0]).rstrip("/").rsplit("/", 1)[-1])
    assert email_is_confirmed(user=user)
    user.email = "new@example.com"
    user.save()
    assert not email_is_confirmed(user=user)
    assert EmailConfirmation.objects.filter(user=user).count() == 1


def test_resend_is_rate_limited(client):
    """Ensures that a logged-in user can ask for new links, at most five an hour."""
    user = UserFactory()
    client.force_login(user)
    url = reverse("accounts:email_confirmation_resend")
    for _ in range(6):
        client.post(url)
    assert len(mail.outbox) == 5


def test_send_task_loads_by_id_and_sends():
    """Ensures that the Celery task (queued after sign-up commits) sends the link."""
    from accounts.tasks import email_confirmation_send_task

    user = UserFactory()
    email_confirmation_send_task.delay(user.pk)
    email_confirmation_send_task.delay(user.pk + 1000)  # a deleted account: nothing happens
    assert [m.to for m in mail.outbox] == [[user.email]]


def _settings_in_subprocess(env: dict, expression: str) -> subprocess.CompletedProcess:
    code = f"import microblog.settings as s; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_email_url_switches_to_smtp():
    """Ensures that EMAIL_URL=smtp://user:pass@host:port configures SMTP, and that without
    it mail goes to the console."""
    result = _settings_in_subprocess(
        {"EMAIL_URL": "smtp://mailer:s3cret@mail.example.org:2525?tls=True"},
        "s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS",
    )
    assert result.stdout.strip() == (
        "django.core.mail.backends.smtp.EmailBackend mail.example.org 2525 mailer True"
    )
    result = _settings_in_subprocess({"EMAIL_URL": ""}, "s.EMAIL_BACKEND")
    assert result.stdout.strip() == "django.core.mail.backends.console.EmailBackend"

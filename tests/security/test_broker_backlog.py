"""Broker down, then back: sign-ups succeed during the outage, and the confirmation links they
could not queue go out once it returns (beat's catch-up task), each exactly once.

The other fault tests (test_faults.py) show the outage itself costs no 500 and no hang; the
access log does not use the broker (its records wait in the Redis stream or the database).
"""

import subprocess
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import EmailConfirmation, User
from accounts.services import email_confirmations_catch_up
from tests.access.conftest import RedisServer, free_port
from tests.access.test_access_log_live import celery_worker, wait_for
from tests.access.test_concurrency import postgres_url, worker_env

PASSWORD = "a-long-enough-passphrase-42"


def _sign_up(username: str):
    return Client().post(
        "/accounts/signup/",
        {
            "username": username,
            "email": f"{username}@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )


@pytest.fixture
def dead_broker(settings):
    """Celery pointed at a port nothing listens on, tasks not eager (as in production)."""
    from microblog.celery import app

    dead = f"redis://127.0.0.1:{free_port()}/0"
    keys = ("broker_url", "task_always_eager", "broker_connection_timeout")
    old = {key: app.conf[key] for key in keys}
    app.conf.update(broker_url=dead, task_always_eager=False, broker_connection_timeout=1)
    settings.CELERY_BROKER_URL = dead
    yield app
    app.conf.update(old)


def _outage_sign_ups(django_capture_on_commit_callbacks, names):
    for name in names:
        with django_capture_on_commit_callbacks(execute=True):
            assert _sign_up(name).status_code == 302
    assert not mail.outbox
    assert not EmailConfirmation.objects.exists()


@pytest.mark.django_db
def test_links_not_queued_during_an_outage_go_out_once_it_is_over(
    dead_broker, django_capture_on_commit_callbacks
):
    """Ensures that sign-ups during a broker outage get their confirmation link from the
    catch-up task beat runs when the broker is back: one link each, not twice, and not for
    accounts so young that their own task may still be on its way."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _outage_sign_ups(django_capture_on_commit_callbacks, ["outage1", "outage2"])
    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        assert email_confirmations_catch_up() == 0  # their own task may still come
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert _sign_up("justnow").status_code == 302
        assert email_confirmations_catch_up() == 2
        assert email_confirmations_catch_up() == 0
    assert sorted(message.to[0] for message in mail.outbox) == [
        "outage1@example.com",
        "outage2@example.com",
    ]
    assert EmailConfirmation.objects.filter(user__username__startswith="outage").count() == 2
    assert not EmailConfirmation.objects.filter(user__username="justnow").exists()


@pytest.mark.django_db
def test_catch_up_leaves_old_and_inactive_accounts_alone(dead_broker):
    """Ensures that the catch-up never mails accounts older than a link's life (demo data,
    imports) or suspended ones."""
    now = timezone.now()
    User.objects.create_user(
        username="veteran",
        email="veteran@example.com",
        password=PASSWORD,
        date_joined=now - timedelta(days=settings.EMAIL_CONFIRMATION_DAYS + 1),
    )
    User.objects.create_user(
        username="suspended",
        email="suspended@example.com",
        password=PASSWORD,
        is_active=False,
        date_joined=now - timedelta(hours=1),
    )
    assert email_confirmations_catch_up() == 0
    assert not mail.outbox


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_backlog_drains_through_a_real_worker_when_the_broker_returns(
    require_postgres, dead_broker, django_capture_on_commit_callbacks
):
    """Ensures the whole path with real parts: sign-ups while the broker is down, then a broker
    (a redis-server of our own) comes up, a real Celery worker starts, and the catch-up task,
    sent as beat would send it, gives each account its link."""
    from kombu import Connection

    from tests.conftest import seed_rows

    seed_rows()
    past = timezone.now() - timedelta(minutes=11)
    with time_machine.travel(past, tick=False):
        _outage_sign_ups(django_capture_on_commit_callbacks, ["drain1", "drain2", "drain3"])

    broker = RedisServer()  # the broker is back
    env = worker_env(
        DATABASE_URL=postgres_url(),
        CELERY_BROKER_URL=broker.url,
        CELERY_TASK_ALWAYS_EAGER="0",
        DEBUG="0",
    )
    worker: subprocess.Popen | None = None
    connection = Connection(broker.url)
    try:
        worker = celery_worker(env, f"backlog-{uuid.uuid4().hex[:6]}")
        dead_broker.send_task(
            "accounts.tasks.email_confirmations_catch_up_task", connection=connection
        )
        assert wait_for(
            lambda: (
                EmailConfirmation.objects.filter(user__username__startswith="drain").count() >= 3
            ),
            timeout=60,
        )
    finally:
        connection.release()
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)
        broker.stop()
    sent_to = sorted(EmailConfirmation.objects.values_list("email", flat=True))
    print(f"\n[broker back] links sent by the worker: {sent_to}")
    assert sent_to == ["drain1@example.com", "drain2@example.com", "drain3@example.com"]

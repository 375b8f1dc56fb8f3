"""End to end: a live gunicorn server with several worker processes and 32 concurrent HTTP
clients of one reader, each opening post pages until refused — posts delivered == budget.

Runs on PostgreSQL (database ledger) and PostgreSQL + Redis (Redis ledger): the server's
processes share the test database pytest-django created. Figures are printed (``-s``).
"""

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from access.gate import window_day
from access.ledgers import RedisLedger
from access.models import ReadDay
from accounts.models import Tier
from tests.factories import PostFactory, UserFactory

from .conftest import free_port
from .test_concurrency import postgres_url

REPO = Path(__file__).resolve().parents[2]
BUDGET = 100
CLIENTS = 32
POSTS_PER_CLIENT = 10  # 320 distinct post pages asked for, 3.2x the budget
WORKERS = 4
THREADS_PER_WORKER = 4
PRINCIPAL = "ip:127.0.0.1/32"

transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def start_server(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "microblog.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
         "--threads", str(THREADS_PER_WORKER), "--log-level", "warning"],
        cwd=REPO,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):  # noqa: S310 - local
                return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def read_until_refused(base: str, post_ids: list[int], cookies: list[str]) -> dict:
    """CLIENTS threads, each opening its own post pages until the first 429 (client i sends
    ``cookies[i % len(cookies)]`` when there are any)."""
    barrier = threading.Barrier(CLIENTS)
    lock = threading.Lock()
    tally = {"delivered": 0, "refused": 0, "other": []}

    def client(ids, cookie):
        barrier.wait(timeout=60)
        for post_id in ids:
            request = urllib.request.Request(f"{base}/posts/{post_id}/")  # noqa: S310 - local
            if cookie:
                request.add_header("Cookie", cookie)
            try:
                with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 - local
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError as exc:
                status = repr(exc)
            with lock:
                if status == 200:
                    tally["delivered"] += 1
                elif status == 429:
                    tally["refused"] += 1
                else:
                    tally["other"].append(status)
            if status != 200:
                return

    threads = [
        threading.Thread(
            target=client,
            args=(post_ids[i::CLIENTS], cookies[i % len(cookies)] if cookies else ""),
        )
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def live_run(ledger: str, extra_env: dict, cookies: list[str] | None = None) -> dict:
    Tier.objects.filter(slug=Tier.ANONYMOUS).update(daily_read_budget=BUDGET)
    author = UserFactory()
    post_ids = [PostFactory(author=author).pk for _ in range(CLIENTS * POSTS_PER_CLIENT)]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=postgres_url(),
        ACCESS_LEDGER=ledger,
        ACCESS_ENFORCEMENT="enforce",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        TRUSTED_PROXY_COUNT="0",
        **extra_env,
    )
    proc, base = start_server(env)
    try:
        tally = read_until_refused(base, post_ids, cookies or [])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(
        f"\n[live concurrency] ledger={ledger} sessions={len(cookies or []) or 'anonymous'}: "
        f"gunicorn workers={WORKERS}x{THREADS_PER_WORKER} "
        f"threads, clients={CLIENTS}, B={BUDGET}, delivered={tally['delivered']}, "
        f"refused={tally['refused']}, other={tally['other'][:5]}"
    )
    return tally


@transactional
def test_live_server_database_ledger(require_postgres):
    """Ensures that 32 HTTP clients of one reader through 4 server processes (database ledger)
    are delivered exactly the budget, and every other request is a 429."""
    tally = live_run("database", {"REDIS_URL": ""})
    assert tally["other"] == []
    assert tally["delivered"] == BUDGET
    assert ReadDay.objects.get(principal=PRINCIPAL, day=window_day()).used == BUDGET


@transactional
def test_live_server_redis_ledger(require_postgres, require_redis):
    """Ensures the same with the Redis ledger shared by the server processes."""
    prefix = f"live-{uuid.uuid4().hex}"
    tally = live_run("redis", {"REDIS_URL": settings.REDIS_URL, "ACCESS_REDIS_KEY_PREFIX": prefix})
    assert tally["other"] == []
    assert tally["delivered"] == BUDGET
    day = timezone.now().date()
    assert RedisLedger(key_prefix=prefix).peek(principal=PRINCIPAL, day=day) == BUDGET


@transactional
def test_live_server_one_account_many_sessions(require_postgres):
    """Ensures that one account reading through 4 web sessions at once, 32 clients over 4
    server processes, shares one budget: delivered == B."""
    tier = Tier.objects.create(slug="live", name="Live", daily_read_budget=BUDGET)
    reader = UserFactory(tier_override=tier)
    cookies = []
    for _ in range(4):
        browser = Client()
        browser.force_login(reader)
        cookies.append(
            f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
    tally = live_run("database", {"REDIS_URL": ""}, cookies=cookies)
    assert tally["other"] == []
    assert tally["delivered"] == BUDGET
    assert ReadDay.objects.get(principal=f"user:{reader.pk}", day=window_day()).used == BUDGET


# Request-rate limits raised far above what the run asks, so only the read budget refuses.
RAISED_REQUEST_LIMITS = (
    '{"api": [["100000/5m", "token"], ["100000/5m", "user"], ["100000/5m", "anon_ip"]],'
    ' "paging": [["100000/15m", "principal"]]}'
)


def read_mixed_until_refused(base: str, post_ids: list[int], credentials: list[dict]) -> dict:
    """CLIENTS threads, client i using ``credentials[i % len(credentials)]``: a Bearer token
    (GET /api/v1/statuses/<id>) or a session cookie (GET /posts/<id>/), each until its first
    429. Tallies per surface."""
    barrier = threading.Barrier(CLIENTS)
    lock = threading.Lock()
    tally = {"delivered": 0, "refused": 0, "other": [], "api": 0, "web": 0}

    def client(ids, credential):
        barrier.wait(timeout=60)
        for post_id in ids:
            if "token" in credential:
                url = f"{base}/api/v1/statuses/{post_id}"
                header = ("Authorization", f"Bearer {credential['token']}")
            else:
                url = f"{base}/posts/{post_id}/"
                header = ("Cookie", credential["cookie"])
            request = urllib.request.Request(url)  # noqa: S310 - local
            request.add_header(*header)
            try:
                with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 - local
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError as exc:
                status = repr(exc)
            with lock:
                if status == 200:
                    tally["delivered"] += 1
                    tally["api" if "token" in credential else "web"] += 1
                elif status == 429:
                    tally["refused"] += 1
                else:
                    tally["other"].append(status)
            if status != 200:
                return

    threads = [
        threading.Thread(
            target=client, args=(post_ids[i::CLIENTS], credentials[i % len(credentials)])
        )
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def live_run_tokens_and_sessions(ledger: str, extra_env: dict):
    """One account with budget B reading through 4 Bearer tokens and 4 web sessions at once:
    32 clients over the live server's processes. Returns (tally, reader)."""
    from accounts.services import token_create

    tier = Tier.objects.create(slug="live-mixed", name="Live mixed", daily_read_budget=BUDGET)
    reader = UserFactory(tier_override=tier)
    credentials: list[dict] = []
    for n in range(4):
        _, raw = token_create(user=reader, name=f"live {n}", scopes=["read"])
        credentials.append({"token": raw})
        browser = Client()
        browser.force_login(reader)
        session = browser.cookies[settings.SESSION_COOKIE_NAME].value
        credentials.append({"cookie": f"{settings.SESSION_COOKIE_NAME}={session}"})
    author = UserFactory()
    post_ids = [PostFactory(author=author).pk for _ in range(CLIENTS * POSTS_PER_CLIENT)]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=postgres_url(),
        ACCESS_LEDGER=ledger,
        ACCESS_ENFORCEMENT="enforce",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        TRUSTED_PROXY_COUNT="0",
        REQUEST_RATE_LIMITS_OVERRIDE=RAISED_REQUEST_LIMITS,
        **extra_env,
    )
    proc, base = start_server(env)
    try:
        tally = read_mixed_until_refused(base, post_ids, credentials)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(
        f"\n[live concurrency] ledger={ledger} one account, 4 tokens + 4 sessions: gunicorn "
        f"workers={WORKERS}x{THREADS_PER_WORKER} threads, clients={CLIENTS}, B={BUDGET}, "
        f"delivered={tally['delivered']} (api={tally['api']}, web={tally['web']}), "
        f"refused={tally['refused']}, other={tally['other'][:5]}"
    )
    return tally, reader


@transactional
def test_live_server_one_account_tokens_and_sessions(require_postgres):
    """Ensures that one account reading through 4 API tokens and 4 web sessions at once, 32
    clients over 4 server processes (database ledger), shares one budget: delivered == B."""
    tally, reader = live_run_tokens_and_sessions("database", {"REDIS_URL": ""})
    assert tally["other"] == []
    assert tally["delivered"] == BUDGET
    assert tally["api"] > 0 and tally["web"] > 0
    assert ReadDay.objects.get(principal=f"user:{reader.pk}", day=window_day()).used == BUDGET


@transactional
def test_live_server_one_account_tokens_and_sessions_redis(require_postgres, require_redis):
    """Ensures the same with the Redis ledger (and the request-rate counters in Redis)."""
    prefix = f"live-{uuid.uuid4().hex}"
    tally, reader = live_run_tokens_and_sessions(
        "redis", {"REDIS_URL": settings.REDIS_URL, "ACCESS_REDIS_KEY_PREFIX": prefix}
    )
    assert tally["other"] == []
    assert tally["delivered"] == BUDGET
    assert tally["api"] > 0 and tally["web"] > 0
    day = timezone.now().date()
    assert RedisLedger(key_prefix=prefix).peek(principal=f"user:{reader.pk}", day=day) == BUDGET

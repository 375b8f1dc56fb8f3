"""Faults: a dependency stops under the running app. Never a 500, never a long hang."""

import time
from unittest import mock

import pytest
from django.db import connection
from django.test import Client

from access.ledgers import redis_ledger
from accounts.models import Tier, User
from tests.access.conftest import RedisServer, free_port
from tests.conftest import skip_or_fail

from .conftest import World, bearer


def test_broker_down_signup_neither_fails_nor_hangs(
    db, settings, django_capture_on_commit_callbacks
):
    """Ensures that with the broker on a dead port and tasks not eager, a sign-up (which
    queues an email-confirmation task on commit) still succeeds quickly: no 500, < 5 s."""
    from microblog.celery import app

    dead = f"redis://127.0.0.1:{free_port()}/0"
    old = {k: app.conf[k] for k in ("broker_url", "task_always_eager", "broker_connection_timeout")}
    app.conf.update(broker_url=dead, task_always_eager=False, broker_connection_timeout=1)
    settings.CELERY_BROKER_URL = dead
    try:
        start = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(
                "/accounts/signup/",
                {
                    "username": "brokerless",
                    "email": "brokerless@example.com",
                    "password1": "a-long-enough-passphrase-42",
                    "password2": "a-long-enough-passphrase-42",
                },
            )
        elapsed = time.monotonic() - start
    finally:
        app.conf.update(old)
    print(f"\n[broker-down] sign-up answered {response.status_code} in {elapsed:.2f}s")
    assert response.status_code == 302, response.content[:300]
    assert elapsed < 5
    assert User.objects.filter(username="brokerless").exists()


def _use_redis(settings, url: str) -> None:
    """Point the cache and the read ledger at ``url`` (as REDIS_URL would at start-up)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "sec-faults",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    settings.ACCESS_LEDGER = "redis"
    settings.REDIS_URL = url
    # The Redis ledger is built once per process on the configured connection: rebuild it on
    # this server now, and again after the test (see the fixture below).
    redis_ledger.cache_clear()


@pytest.fixture
def fresh_redis_ledger():
    """Forget the per-process Redis ledger after the test, so later tests do not keep talking
    to the server this test started and stopped."""
    yield
    redis_ledger.cache_clear()


def test_redis_stopped_during_reads_full_stack(world, settings, fresh_redis_ledger):
    """Ensures that when the Redis behind the read ledger stops, web pages and the API never
    answer 500: anonymous and new readers get 429 (fail closed), an unverified reader falls
    back to the database ledger; when Redis is back, metering is on Redis again at once."""
    import shutil

    if not shutil.which("redis-server"):
        skip_or_fail("this test starts its own redis-server: install the redis-server package")
    server = RedisServer()
    _use_redis(settings, server.url)
    unverified = Tier.objects.get(slug="unverified")
    world.other.tier_override = unverified
    world.other.save()

    def caller(user, token):
        web, api = Client(), Client(**bearer(token))
        web.force_login(user)
        return web, api

    anonymous = Client()
    readers = {
        "anon": (anonymous, anonymous),
        "new": caller(world.owner, world.tokens["owner"]),  # a fresh account: tier "new"
        "fallback": caller(world.other, world.tokens["other"]),  # unverified
    }
    post = world.owner_posts[0].pk
    web_paths = [f"/posts/{post}/", "/public/"]
    api_paths = [f"/api/v1/statuses/{post}", "/api/v1/timelines/public"]

    def read_all():
        statuses = {}
        for name, (web, api) in readers.items():
            for client, paths in ((web, web_paths), (api, api_paths)):
                for path in paths:
                    start = time.monotonic()
                    statuses[(name, path)] = client.get(path).status_code
                    assert time.monotonic() - start < 5, path
        return statuses

    try:
        assert set(read_all().values()) == {200}
        assert server.client().keys("*reads*")  # metered on Redis

        server.stop()
        statuses = read_all()
        print(f"\n[redis-down] statuses while stopped: {statuses}")
        assert 500 not in statuses.values()
        for (name, _path), status in statuses.items():
            assert status == (200 if name == "fallback" else 429), statuses
        refused = anonymous.get(f"/api/v1/statuses/{post}")
        assert refused.json()["code"] == "read_budget_unavailable"
        assert refused["Retry-After"] == "60"
    finally:
        server.stop()

    # Back: a new, empty server on the same port (a restart without persistence). The web
    # process keeps its clients; redis-py reconnects on the next command.
    with mock.patch("tests.access.conftest.free_port", return_value=server.port):
        restarted = RedisServer()
    try:
        start = time.monotonic()
        response = anonymous.get(f"/posts/{post}/")
        assert response.status_code == 200
        assert restarted.client().keys("*reads*"), "metering is not back on Redis"
        print(f"[redis-down] metering back on Redis {time.monotonic() - start:.2f}s after restart")
    finally:
        restarted.stop()


APP_NAME = "microblog-security-fault-test"


# serialized_rollback, as every other transactional test on PostgreSQL: a flush that re-creates
# content types (a plain transactional test's teardown) breaks the next serialized test's
# restore, and a serialized test's flush leaves no permissions for a plain one (World needs one).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_postgres_connections_terminated_recover(require_postgres, seeded_rows):
    """Ensures that after PostgreSQL terminates the app's connections (pg_terminate_backend
    from another connection), the next requests to a live gunicorn recover without a
    restart: at most the request that finds its connection dead fails, none after it."""
    import os
    import urllib.error
    import urllib.request

    from tests.access.test_concurrency import postgres_url
    from tests.access.test_live_concurrency import start_server

    world = World()
    # PGAPPNAME marks the server's connections, so only they are terminated, never the
    # test process's own (which would break the tests that run after this one).
    env = dict(
        os.environ,
        DATABASE_URL=postgres_url(),
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        PGAPPNAME=APP_NAME,
    )
    env.pop("REDIS_URL", None)  # the database is the dependency under test here
    proc, base = start_server(env)

    def get(path: str) -> int:
        request = urllib.request.Request(base + path, headers=bearer_header(world))  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        assert [get("/api/v1/timelines/public") for _ in range(8)] == [200] * 8
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s",
                [APP_NAME],
            )
            killed = cursor.rowcount
        statuses = [get("/api/v1/timelines/public") for _ in range(16)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\n[postgres-drop] terminated {killed} backends; statuses after: {statuses}")
    assert killed >= 1
    assert statuses[-8:] == [200] * 8, statuses
    assert statuses.count(500) <= 4 * 4, statuses  # at most one per worker thread's connection


def bearer_header(world) -> dict:
    return {"Authorization": f"Bearer {world.tokens['owner']}"}

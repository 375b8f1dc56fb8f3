"""Fixtures for the read gate: requests from a chosen reader, ledgers, a private Redis."""

import shutil
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from access.ledgers import DatabaseLedger, RedisLedger
from tests.conftest import skip_or_fail

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server process of our own on a free port, so a test can stop it."""

    def __init__(self):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"redis://127.0.0.1:{self.port}/0"
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.02)

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def private_redis():
    """A Redis server started for this test session only (skips if redis-server is missing)."""
    if not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        skip_or_fail("these tests start their own redis-server: install the redis-server package")
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(params=["database", "redis"])
def ledger(request, db, private_redis):
    """Each ledger in turn: the database one, and a Redis one on our private server."""
    if request.param == "database":
        return DatabaseLedger()
    return RedisLedger(client=private_redis.client(), key_prefix=f"test-{uuid.uuid4().hex}")


@pytest.fixture
def use_ledger(monkeypatch):
    """Make the gate (and the meter) use the given ledger."""

    def use(chosen):
        monkeypatch.setattr("access.gate.ledger_get", lambda: chosen)
        monkeypatch.setattr("access.selectors.ledger_get", lambda: chosen)
        return chosen

    return use


@pytest.fixture
def gate_ledger(ledger, use_ledger):
    """The parametrised ledger, installed behind the gate."""
    return use_ledger(ledger)


@pytest.fixture
def noon():
    """The clock pinned at 12:00 UTC: twelve hours before the window resets."""
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def make_request():
    """A GET request from ``user`` (default anonymous) at ``ip`` with optional headers."""
    factory = RequestFactory()

    def make(user=None, ip="203.0.113.7", **headers):
        request = factory.get("/", REMOTE_ADDR=ip, **headers)
        request.user = user if user is not None else AnonymousUser()
        return request

    return make

"""Shared fixtures: service detection, factories and a clean cache per test."""

import atexit
import functools
import importlib
import os
import shutil
import tempfile

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> None:
    """Skip with a visible reason, or fail when CI demands every service (REQUIRE_SERVICES=1)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    """Debian's Chromium, or CHROMIUM_PATH when set."""
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@pytest.fixture
def require_postgres(db):
    """For tests whose behaviour depends on PostgreSQL (locks, triggers, plans)."""
    if connection.vendor != "postgresql":
        skip_or_fail("this test needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.fixture
def require_redis():
    """For tests whose behaviour depends on Redis."""
    if not settings.REDIS_URL:
        skip_or_fail("this test needs Redis: set REDIS_URL=redis://…")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (our own Redis db number / prefix in CI), and
    without this process's copy of the IP blocklist."""
    from access.ipblock import ip_blocks_changed

    cache.clear()
    ip_blocks_changed()
    yield
    cache.clear()
    ip_blocks_changed()


def pytest_configure(config):
    """Fast password hashing in tests only: the real hasher is deliberately slow. Uploaded
    images go to a temporary folder removed at exit, never the checkout's ``media/`` (the
    fuzzer uploads real images; tests that look at files set their own ``MEDIA_ROOT``)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="microblog-test-media-")
    atexit.register(shutil.rmtree, settings.MEDIA_ROOT, ignore_errors=True)


# Data migrations that seed rows the app needs (tiers decide read budgets; the plan is sold).
SEED_MIGRATIONS = ["accounts.migrations.0002_seed_tiers", "accounts.migrations.0004_seed_plan"]


@functools.cache
def _migration_state_apps(name: str):
    """The historical models a data migration was written against (models may have moved to
    another app since, e.g. Plan to verification/; their tables did not)."""
    from django.db.migrations.loader import MigrationLoader

    app_label, _, migration = name.split(".")
    return MigrationLoader(None).project_state((app_label, migration)).apps


def seed_rows() -> None:
    """Put back the rows data migrations seed: transactional tests before this one flushed
    them (and serialized_rollback cannot restore them once a flush re-created content types).
    The seed functions are idempotent."""
    for name in SEED_MIGRATIONS:
        importlib.import_module(name).seed(_migration_state_apps(name), None)


@pytest.fixture
def seeded_rows(transactional_db):
    """The seeded rows (see ``seed_rows``) as a fixture, for tests that do not use ``page``."""
    seed_rows()


def _embedded_only_deselect(config, items) -> None:
    """With ``DATABASE_URL`` set (CI's PostgreSQL + Redis pass), leave out the tests marked
    ``embedded_only``: they run only in processes they start on the embedded defaults (an
    SQLite file, no Redis, no broker), so they do the same there as in the embedded pass
    (``make test``), which runs them. pytest's summary counts them as deselected."""
    if not os.environ.get("DATABASE_URL"):
        return
    kept, left = [], []
    for item in items:
        (left if item.get_closest_marker("embedded_only") else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Leave out the ``embedded_only`` tests on PostgreSQL (``_embedded_only_deselect``), then
    run the transactional tests that use ``serialized_rollback`` before the other
    transactional ones (pytest-django has already put plain database tests first).

    A transactional test without it, and any test on pytest-django's ``live_server`` (whose
    helper asks for a plain ``transactional_db`` whatever the marker says: the browser tests),
    ends with a flush that re-creates the content types under new ids; a serialized test after
    it then fails at set-up restoring the saved rows ("UNIQUE constraint failed:
    django_content_type"). The sort is stable, so the order is otherwise pytest-django's.
    """

    def order(item) -> int:
        marker = item.get_closest_marker("django_db")
        fixtures = getattr(item, "fixturenames", [])
        kwargs = marker.kwargs if marker else {}
        transactional = bool(kwargs.get("transaction")) or any(
            name in fixtures for name in ("transactional_db", "live_server")
        )
        if not transactional:
            return 0 if (marker or "db" in fixtures) else 3
        if "live_server" in fixtures or not kwargs.get("serialized_rollback"):
            return 2
        return 1

    _embedded_only_deselect(config, items)
    items.sort(key=order)

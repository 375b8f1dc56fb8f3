"""The read gate and the visibility rule on every route of the URL conf (issue 12, item 4).

One seeded world per module; the walker (``gate_walker.py``) rolls every call back. Runs on
SQLite with the database ledger and on PostgreSQL + Redis with the Redis ledger.
"""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import transaction

from .gate_walker import Walker, walk_world_create
from .routes import route_paths

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def walk_world(django_db_setup, django_db_blocker):
    """The world, seeded once for the module in a transaction rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield walk_world_create()
        transaction.set_rollback(True)


@pytest.fixture
def noon():
    with time_machine.travel(NOON, tick=False):
        yield


@pytest.mark.parametrize("logged_in", [False, True], ids=["logged-out", "logged-in"])
def test_every_route_shows_only_gated_visible_posts(walk_world, db, noon, logged_in):
    """Ensures that no route and method of the URL conf, web or API, answers a reader with a
    post that was not charged to them today (their own excepted), that left no access-log
    record, or whose author is suspended — and that none raises."""
    walker = Walker(walk_world, logged_in=logged_in)
    failures = walker.walk()
    assert not failures, "\n".join(failures)
    # The walk did reach the surfaces that show posts (not a walk of 404s).
    assert walker.showed_posts >= 20, walker.showed_posts


@pytest.mark.parametrize("logged_in", [False, True], ids=["logged-out", "logged-in"])
def test_a_new_route_without_the_gate_fails_the_walk(walk_world, db, noon, settings, logged_in):
    """Ensures that routes added without the gate — one printing a post's text, one
    serializing a status — fail the walk, found from the URL conf alone.

    The walk leaves out the site's own routes: they are the same routes, samples and reader
    as in the walk above, which fails on any of them that leaks (walking them again here
    took half of this module's time and proved nothing more)."""
    site_routes = frozenset(pattern for pattern, _path in route_paths(*walk_world.samples()))
    settings.ROOT_URLCONF = "tests.security.leaky_urls"
    walker = Walker(walk_world, logged_in=logged_in, skip=site_routes)
    failures = walker.walk()
    # What was walked came from the URL conf: exactly the routes it adds to the site's.
    assert walker.walked == {"leak/raw/<int:pk>/", "leak/status/<int:post_id>/"}
    assert failures
    assert all(" /leak/" in failure for failure in failures), "\n".join(failures)
    raw = [f for f in failures if "/leak/raw/" in f]
    assert any("not charged" in f for f in raw) and any("no access-log record" in f for f in raw)
    # Someone else's status: the entity builder refuses; the reader's own: no record.
    built = [f for f in failures if "/leak/status/" in f]
    assert any("UngatedPostError" in f for f in built)
    assert all("UngatedPostError" in f or "no access-log record" in f for f in built)

"""Fuzzing the REST API with schemathesis against its own OpenAPI schema, in-process.

The schema is the one drf-spectacular generates (the same document ``/api/schema/`` serves);
requests go straight into Django's WSGI handler, no network. Every operation gets at least
``FUZZ_EXAMPLES`` generated requests (valid and invalid: the "positive" and "negative" modes),
with a fixed seed and Hypothesis's derandomised search, so a run is reproducible, and every
check the installed schemathesis offers runs on every response.

A failure prints a curl command that reproduces it; every one fixed so far has a regression
test in ``test_fuzz_regressions.py``.
"""

import json

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from access.gate import window_day
from access.ledgers import ledger_get
from accounts.models import Tier

FUZZ_EXAMPLES = 100
SEED = 20261126

load_all_checks()
ALL_CHECKS = [check for check in CHECKS.get_all() if check.__name__ != "max_response_time"]

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "generation": {"max-examples": FUZZ_EXAMPLES, "deterministic": True, "mode": "all"},
    }
)


def _without_multipart(raw: dict) -> dict:
    """Drop multipart bodies where JSON or a form is offered too.

    schemathesis's in-process transport can leave an empty multipart field out of the request
    it sends while still judging the case by the field it generated, so "negative data
    accepted" fired on requests our parser never saw (replayed by hand they get 422). The same
    operations stay fuzzed through JSON and urlencoded bodies; multipart parsing is covered by
    tests/security/test_bad_input.py.
    """
    for methods in raw.get("paths", {}).values():
        for operation in methods.values():
            content = (
                (operation.get("requestBody") or {}).get("content", {})
                if isinstance(operation, dict)
                else {}
            )
            if "multipart/form-data" in content and len(content) > 1:
                del content["multipart/form-data"]
    return raw


def _schema():
    raw = _without_multipart(SchemaGenerator().get_schema(request=None, public=True))
    # Round-trip through JSON, as a client would load it (lazy strings become plain str).
    loaded = schemathesis.openapi.from_dict(json.loads(json.dumps(raw, default=str)), config=CONFIG)
    loaded.app = WSGIHandler()
    return loaded


schema = _schema()
BUDGET_OF_FIVE_STATUSES: set[int] = set()

HYPOTHESIS = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    # The database fixture is shared by an operation's examples on purpose: the fuzzer acts on
    # a world with posts and follows, and what it changes stays changed (as on a real server).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def fuzzer(world):
    """The owner's token; meanwhile the test's database connection is kept open.

    The WSGI handler closes "old" connections when a request starts and finishes; inside the
    test's transaction that would close it (PostgreSQL), so, as Django's test client does,
    that hook is off while the fuzzer calls the app.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield world.tokens["owner"]
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@HYPOTHESIS
def test_api_fuzz(case, fuzzer):
    """Ensures that no generated request, valid or not, makes any schemathesis check fail:
    no 5xx, every status and body as documented, invalid input refused, valid input accepted,
    auth not ignored."""
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzzer}"}, checks=ALL_CHECKS)


@pytest.fixture
def fuzzer_on_budget_of_five(fuzzer, world):
    """The fuzzer's token, its tier's budget (and the anonymous one) at 5, all spent on posts
    that do not exist: every metered call that would deliver a post answers 429.

    (With budget left, the fuzzer rarely guesses an existing post id — PostgreSQL does not
    reset sequences between tests — and pages of posts already read stay free, so a partly
    spent budget produced no 429 at all there.)"""
    Tier.objects.filter(slug__in=["new", "anonymous"]).update(daily_read_budget=5)
    ledger_get().charge(
        principal=f"user:{world.owner.pk}",
        day=window_day(),
        limit=5,
        post_ids=[10**15 + i for i in range(5)],
    )
    return fuzzer


@schema.parametrize()
@HYPOTHESIS
def test_api_fuzz_with_budget_of_five(case, fuzzer_on_budget_of_five):
    """Ensures that with a daily read budget of 5 (so most metered calls answer 429) every
    response still passes every check: the 429s are documented and conform."""
    fuzzer = fuzzer_on_budget_of_five
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzzer}"}, checks=ALL_CHECKS
    )
    BUDGET_OF_FIVE_STATUSES.add(response.status_code)


def test_budget_of_five_run_was_refused_with_429():
    """Ensures that the budget-of-5 fuzz run really exercised 429s (run after it)."""
    if not BUDGET_OF_FIVE_STATUSES:
        pytest.skip("run together with test_api_fuzz_with_budget_of_five")
    assert 429 in BUDGET_OF_FIVE_STATUSES and 200 in BUDGET_OF_FIVE_STATUSES

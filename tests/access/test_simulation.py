"""``simulate_scrapers`` through the real request stack and the real access-log write path:
every scraper is flagged, no normal reader is."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import call_command

from access.models import AccessLogEntry, Flag
from accounts.models import ApiToken, User

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _rules(*, user: User | None = None, principal: str | None = None) -> set[str]:
    flags = Flag.objects.filter(status=Flag.OPEN)
    flags = flags.filter(user_id=user.pk) if user else flags.filter(principal=principal)
    return set(flags.values_list("rule", flat=True))


@pytest.fixture
def simulated(capsys):
    with time_machine.travel(NOON, tick=False):
        call_command("simulate_scrapers")
    return capsys.readouterr().out


def test_simulation_flags_every_scraper_and_no_normal_reader(simulated):
    """Ensures that the paginator, the enumerator, the farm, the shared token and the AI
    crawler are each flagged under their rule, and the normal readers are not flagged."""
    by_name = {user.username: user for user in User.objects.filter(username__startswith="sim_")}
    requests = AccessLogEntry.objects.count()
    assert requests > 100, "the gate wrote no access-log records"

    assert _rules(user=by_name["sim_reader"]) == set()
    assert _rules(principal="ip:192.0.2.20/32") == set()
    for n in range(1, 9):  # each farm account on its own reads like a person
        assert _rules(user=by_name[f"sim_farm_{n:02d}"]) == set()

    assert {"deep_paging", "read_velocity", "budget_exhausted", "ignored_429"} <= _rules(
        user=by_name["sim_paginator"]
    )
    assert _rules(user=by_name["sim_enumerator"]) == {"sequential_ids"}
    assert _rules(principal="net:198.51.100.0/24") == {"shared_prefix"}
    token = ApiToken.objects.get(user=by_name["sim_token_owner"], revoked_at__isnull=True)
    assert _rules(principal=f"token:{token.pk}") == {"many_ips"}
    assert _rules(principal="ip:20.171.206.5/32") == {"scraper_user_agent"}

    assert "<-- unexpected" not in simulated
    assert "normal reader (logged in)                      clean    not flagged" in simulated


def test_simulation_runs_again_without_new_surprises(simulated, capsys):
    """Ensures that a second run reuses its sim_* accounts and still flags only scrapers."""
    users = User.objects.filter(username__startswith="sim_").count()
    with time_machine.travel(NOON.replace(minute=30), tick=False):
        call_command("simulate_scrapers")
    out = capsys.readouterr().out
    assert User.objects.filter(username__startswith="sim_").count() == users
    assert "<-- unexpected" not in out
    assert Flag.objects.filter(status=Flag.OPEN, user__username="sim_reader").count() == 0

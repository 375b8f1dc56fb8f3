"""Tests for the read gate's rules (DESIGN.md §4.2), on both ledgers."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model

from access.gate import ReadBudgetExhausted, posts_deliver, read_gate, reader_principal
from accounts.models import Tier
from tests.factories import PostFactory, UserFactory

from .conftest import NOON


@pytest.fixture
def tiny():
    """A tier with a budget of 5 posts a day."""
    return Tier.objects.create(slug="tiny", name="Tiny", daily_read_budget=5)


@pytest.fixture
def reader(tiny):
    return UserFactory(tier_override=tiny)


def fresh(user):
    """The same account as the next request sees it (tiers are cached per user object)."""
    return get_user_model().objects.get(pk=user.pk)


def gate(make_request, user, ids, **kw):
    return read_gate(request=make_request(fresh(user) if user else None, **kw), post_ids=ids)


def test_rereads_are_free(gate_ledger, noon, make_request, reader):
    """Ensures that a post counts once per reader per day, however often it is shown."""
    first = gate(make_request, reader, [1, 2, 3])
    assert (first.delivered_ids, first.used, first.newly_charged) == ([1, 2, 3], 3, 3)
    again = gate(make_request, reader, [3, 2, 1])
    assert (again.delivered_ids, again.used, again.newly_charged) == ([3, 2, 1], 3, 0)
    assert again.remaining == 2 and again.limit == 5 and again.tier == "tiny"


def test_duplicates_in_one_page_count_once(gate_ledger, noon, make_request, reader):
    """Ensures that an id repeated within one page is charged once."""
    grant = gate(make_request, reader, [7, 7, 8, 7])
    assert grant.delivered_ids == [7, 8] and grant.used == 2 and grant.newly_charged == 2


def test_partial_page_then_refusal(gate_ledger, noon, make_request, reader):
    """Ensures that a page is cut at the first post that needs budget that is not there, and
    that the next page with new posts is refused."""
    gate(make_request, reader, [1, 2, 3])
    partial = gate(make_request, reader, [4, 5, 6, 7])
    assert partial.delivered_ids == [4, 5]
    assert (partial.refused_count, partial.used, partial.remaining) == (2, 5, 0)
    assert not partial.refused
    refused = gate(make_request, reader, [6, 7])
    assert refused.delivered_ids == [] and refused.refused and refused.used == 5


def test_already_read_pages_are_delivered_when_spent(gate_ledger, noon, make_request, reader):
    """Ensures that a page of posts already read today goes out with the budget spent, and a
    mixed page is cut at its first new post."""
    gate(make_request, reader, [1, 2, 3, 4, 5])
    assert gate(make_request, reader, [5, 4, 3]).delivered_ids == [5, 4, 3]
    mixed = gate(make_request, reader, [1, 2, 99, 3])
    assert mixed.delivered_ids == [1, 2] and mixed.refused_count == 2 and mixed.used == 5


def test_midnight_utc_reset(gate_ledger, make_request, reader):
    """Ensures that the window is the UTC day: spent at 23:59:59, fresh at 00:00:00."""
    with time_machine.travel(datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC), tick=False):
        spent = gate(make_request, reader, [1, 2, 3, 4, 5, 6])
        assert spent.used == 5 and spent.reset_at == datetime(2026, 11, 27, tzinfo=UTC)
        assert gate(make_request, reader, [6]).refused
    with time_machine.travel(datetime(2026, 11, 27, 0, 0, 0, tzinfo=UTC), tick=False):
        fresh_day = gate(make_request, reader, [1, 6])
        assert fresh_day.delivered_ids == [1, 6] and fresh_day.used == 2
        assert fresh_day.reset_at == datetime(2026, 11, 28, tzinfo=UTC)


def test_tier_change_mid_day(gate_ledger, noon, make_request, reader, tiny):
    """Ensures that a tier change applies on the next request and the day's count carries."""
    gate(make_request, reader, [1, 2, 3, 4, 5])
    assert gate(make_request, reader, [6]).refused
    tiny.daily_read_budget = 8
    tiny.save()
    raised = gate(make_request, reader, [6, 7, 8, 9])
    assert raised.delivered_ids == [6, 7, 8] and raised.used == 8 and raised.limit == 8
    reader.tier_override = Tier.objects.get(slug="restricted")
    reader.tier_override.daily_read_budget = 3
    reader.tier_override.save()
    reader.save()
    lowered = gate(make_request, reader, [1, 10])
    assert lowered.delivered_ids == [1] and lowered.used == 8 and lowered.remaining == 0
    assert lowered.tier == "restricted"


def test_staff_are_unlimited_but_counted(gate_ledger, noon, make_request):
    """Ensures that the unlimited tier is never refused and still charged the same way."""
    staff = UserFactory(is_staff=True)
    ids = list(range(1, 251))
    grant = gate(make_request, staff, ids)
    assert grant.delivered_ids == ids and grant.used == 250 and grant.newly_charged == 250
    assert grant.limit is None and grant.remaining is None and grant.tier == "unlimited"
    assert gate(make_request, staff, [1, 2, 251]).used == 251


def test_dry_run_charges_and_records_but_delivers(
    gate_ledger, noon, make_request, reader, settings
):
    """Ensures that dry-run delivers everything, charges it, and records what enforce would
    have refused."""
    settings.ACCESS_ENFORCEMENT = "dry-run"
    gate(make_request, reader, [1, 2, 3])
    grant = gate(make_request, reader, [1, 4, 5, 6, 7])
    assert grant.delivered_ids == [1, 4, 5, 6, 7] and grant.refused_count == 0
    assert grant.used == 7 and grant.remaining == 0 and grant.mode == "dry-run"
    assert grant.extra["would_refuse"] == 2  # enforce would have cut at 6


def test_off_charges_nothing(gate_ledger, noon, make_request, reader, settings):
    """Ensures that "off" delivers everything and touches no ledger."""
    settings.ACCESS_ENFORCEMENT = "off"
    ids = list(range(1, 20))
    grant = gate(make_request, reader, ids)
    assert grant.delivered_ids == ids and grant.used == 0 and grant.mode == "off"
    assert gate_ledger.peek(principal=f"user:{reader.pk}", day=NOON.date()) == 0


def test_anonymous_readers_are_keyed_by_ip_prefix(gate_ledger, noon, make_request, settings):
    """Ensures that logged-out readers share a budget per IPv4 address and per IPv6 /64."""
    Tier.objects.filter(slug="anonymous").update(daily_read_budget=3)
    settings.TRUSTED_PROXY_COUNT = 0
    a = gate(make_request, None, [1, 2], ip="2001:db8:1:2::1")
    b = gate(make_request, None, [3, 4], ip="2001:db8:1:2:ffff::9")  # same /64
    assert a.used == 2 and b.delivered_ids == [3] and b.used == 3
    other = gate(make_request, None, [3, 4], ip="2001:db8:1:3::1")  # another /64
    assert other.delivered_ids == [3, 4] and other.tier == "anonymous"
    assert gate(make_request, None, [1, 2, 3, 4], ip="198.51.100.1").used == 3


def test_forged_forwarded_for_does_not_buy_a_new_budget(gate_ledger, noon, make_request, settings):
    """Ensures that rotating a forged X-Forwarded-For keeps the same anonymous budget."""
    Tier.objects.filter(slug="anonymous").update(daily_read_budget=3)
    settings.TRUSTED_PROXY_COUNT = 0
    for n, forged in enumerate(["1.1.1.1", "2.2.2.2", "3.3.3.3"]):
        gate(make_request, None, [n], HTTP_X_FORWARDED_FOR=forged)
    assert gate(make_request, None, [9], HTTP_X_FORWARDED_FOR="4.4.4.4").refused
    settings.TRUSTED_PROXY_COUNT = 1
    behind_proxy = make_request(None, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert reader_principal(behind_proxy) == "ip:203.0.113.7/32"


def test_posts_deliver_cuts_reposts_and_raises(gate_ledger, noon, make_request, reader):
    """Ensures that posts_deliver charges a repost's original too, returns the delivered
    prefix, stores the grant on the request and raises when nothing may go out."""
    author = UserFactory()
    posts = [PostFactory(author=author) for _ in range(4)]
    repost = PostFactory(author=UserFactory(), repost_of=posts[0], text="")
    page = [posts[3], repost, posts[2], posts[1]]  # ids: p3, repost, p0, p2, p1
    gate(make_request, reader, [10**9])  # 4 of 5 left
    request = make_request(fresh(reader))
    delivered = posts_deliver(request=request, posts=page)
    assert delivered == [posts[3], repost, posts[2]]
    assert request.read_grant.used == 5 and request.read_grant.refused_count == 1
    with pytest.raises(ReadBudgetExhausted) as refused:
        posts_deliver(request=make_request(fresh(reader)), posts=[posts[1]])
    assert refused.value.grant.remaining == 0
    assert posts_deliver(request=make_request(fresh(reader)), posts=[]) == []


def test_default_budgets_apply(gate_ledger, noon, make_request):
    """Ensures that the budget comes from the reader's effective tier (a new account: 500)."""
    grant = gate(make_request, UserFactory(), list(range(1, 600)))
    assert grant.tier == "new" and grant.limit == 500 and len(grant.delivered_ids) == 500


def test_reset_is_next_utc_midnight_whatever_the_hour(gate_ledger, make_request, reader):
    """Ensures that reset_at is the next 00:00 UTC one second after midnight too."""
    with time_machine.travel(datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC), tick=False):
        grant = gate(make_request, reader, [1])
    assert grant.reset_at - datetime(2026, 11, 26, tzinfo=UTC) == timedelta(days=1)


def test_repost_whose_original_does_not_fit_is_refused(gate_ledger, noon, make_request, reader):
    """Ensures that a page whose first post is a repost with no budget left for its original
    is a refusal, not an empty page."""
    original = PostFactory()
    repost = PostFactory(repost_of=original, text="")
    gate(make_request, reader, [10**9, 10**9 + 1, 10**9 + 2, 10**9 + 3])  # 1 of 5 left
    with pytest.raises(ReadBudgetExhausted):
        posts_deliver(request=make_request(fresh(reader)), posts=[repost])

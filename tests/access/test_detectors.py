"""The bulk-access detectors on crafted access logs: each fires on its pattern and stays
silent on a normal reader; runs are incremental and idempotent."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command

from access import detectors
from access.detectors import detect_bulk_access
from access.models import AccessLogEntry, DetectorCursor, Flag
from tests.access.review_helpers import T0, every, log_entry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        yield


def normal_reader(user, *, ip="192.0.2.10", start=T0):
    """What a person does in half an hour: a few timeline pages, some posts, a profile."""
    log_entry(at=start, user=user, ip=ip, route_name="feeds:home", path="/")
    log_entry(at=start + timedelta(minutes=3), user=user, ip=ip, paging={"max_id": 900})
    log_entry(at=start + timedelta(minutes=6), user=user, ip=ip, paging={"max_id": 880})
    for minute, post_id in ((8, 850), (12, 851), (20, 700)):
        log_entry(
            at=start + timedelta(minutes=minute),
            user=user,
            ip=ip,
            route_name="feeds:post",
            path=f"/posts/{post_id}/",
            delivered=1,
        )
    log_entry(
        at=start + timedelta(minutes=25),
        user=user,
        ip=ip,
        route_name="feeds:profile",
        path="/@alice/",
    )


def rules_for(principal: str) -> set[str]:
    return set(Flag.objects.filter(principal=principal).values_list("rule", flat=True))


def test_normal_reader_raises_no_flag():
    """Ensures that a normal reader (few pages, a few posts, one IP, a browser) is never flagged."""
    normal_reader(UserFactory())
    normal_reader(None, ip="192.0.2.77")
    run = detect_bulk_access()
    assert run.entries_read == 14
    assert Flag.objects.count() == 0


def test_budget_exhausted_fires_on_refusals():
    """Ensures that reaching 0 remaining and being refused raises a budget-exhausted flag."""
    user = UserFactory()
    log_entry(at=T0, user=user, remaining=0, delivered=20)
    log_entry(
        at=T0 + timedelta(seconds=30), user=user, status=429, delivered=0, refused=20, remaining=0
    )
    detect_bulk_access()
    flag = Flag.objects.get(rule=detectors.BUDGET_EXHAUSTED)
    assert flag.principal == f"user:{user.pk}"
    assert flag.user_id == user.pk
    assert flag.evidence["figures"]["exhausted_requests"] == 2
    assert flag.evidence["figures"]["posts_refused"] == 20
    assert len(flag.evidence["entry_ids"]) == 2
    assert flag.first_seen == T0 and 0 < flag.score <= 100


def test_read_velocity_fires_on_sustained_fast_reading_only():
    """Ensures that 400 posts in 4 minutes is flagged and 100 posts in 5 minutes is not."""
    fast, slow = UserFactory(), UserFactory()
    for at in every(12, 20):
        log_entry(at=at, user=fast, ip="192.0.2.1")
    for at in every(60, 5):
        log_entry(at=at, user=slow, ip="192.0.2.2")
    detect_bulk_access()
    assert detectors.READ_VELOCITY in rules_for(f"user:{fast.pk}")
    assert rules_for(f"user:{slow.pk}") == set()
    flag = Flag.objects.get(rule=detectors.READ_VELOCITY)
    assert flag.evidence["figures"]["posts_delivered"] == 400


def test_deep_paging_fires_on_long_max_id_chains():
    """Ensures that following max_id 16 times in 8 minutes raises a deep-paging flag."""
    user = UserFactory()
    for i, at in enumerate(every(30, 16)):
        log_entry(at=at, user=user, paging={"max_id": 10_000 - 20 * i}, delivered=5)
    detect_bulk_access()
    flag = Flag.objects.get(principal=f"user:{user.pk}", rule=detectors.DEEP_PAGING)
    assert flag.evidence["figures"]["max_id_requests"] == 16
    assert flag.evidence["figures"]["deepest_max_id"] == 10_000 - 20 * 15


def test_sequential_id_enumeration_fires_and_scattered_posts_do_not():
    """Ensures that 25 posts opened by consecutive id are flagged, 25 scattered ones are not."""
    enumerator, browser = UserFactory(), UserFactory()
    for i, at in enumerate(every(5, 25)):
        log_entry(at=at, user=enumerator, ip="192.0.2.3", route_name="feeds:post",
                  path=f"/posts/{5000 + i}/", delivered=1)  # fmt: skip
        log_entry(at=at, user=browser, ip="192.0.2.4", route_name="feeds:post",
                  path=f"/posts/{100 + 37 * i}/", delivered=1)  # fmt: skip
    detect_bulk_access()
    flag = Flag.objects.get(rule=detectors.SEQUENTIAL_IDS)
    assert flag.principal == f"user:{enumerator.pk}"
    assert flag.evidence["figures"]["sequence_length"] == 25
    assert (flag.evidence["figures"]["first_id"], flag.evidence["figures"]["last_id"]) == (
        5000,
        5024,
    )


def test_sequential_ids_are_read_from_api_status_routes_too():
    """Ensures that GET /api/v1/statuses/<id> enumeration counts like the post page."""
    user = UserFactory()
    for i, at in enumerate(every(2, 22)):
        log_entry(
            at=at,
            user=user,
            route_name="api:status",
            path=f"/api/v1/statuses/{70 + 2 * i}",
            delivered=1,
        )
    detect_bulk_access()
    assert detectors.SEQUENTIAL_IDS in rules_for(f"user:{user.pk}")


def test_many_accounts_behind_one_prefix_fires_on_a_heavy_farm_only():
    """Ensures that 6 accounts reading 240 posts from one /24 raise one flag on the network,
    while 6 light readers behind one NAT and 2 heavy ones do not."""
    farm = [UserFactory() for _ in range(6)]
    for n, user in enumerate(farm):
        for at in every(60, 2, T0 + timedelta(seconds=n)):
            log_entry(at=at, user=user, ip=f"198.51.100.{10 + n}")
    office = [UserFactory() for _ in range(6)]
    for n, user in enumerate(office):
        log_entry(at=T0 + timedelta(minutes=n), user=user, ip=f"192.0.2.{10 + n}", delivered=15)
    pair = [UserFactory() for _ in range(2)]
    for n, user in enumerate(pair):
        for at in every(60, 8):
            log_entry(at=at, user=user, ip=f"203.0.113.{n + 1}")
    detect_bulk_access()
    flags = Flag.objects.filter(rule=detectors.SHARED_PREFIX)
    assert [flag.principal for flag in flags] == ["net:198.51.100.0/24"]
    flag = flags.get()
    assert flag.ip_prefix == "198.51.100.0/24" and flag.user_id is None
    assert flag.evidence["figures"]["accounts"] == 6
    assert flag.evidence["figures"]["posts_delivered"] == 240
    assert flag.evidence["figures"]["user_ids"] == sorted(user.pk for user in farm)


def test_many_accounts_behind_one_ipv6_64():
    """Ensures that the farm rule groups IPv6 readers by /64."""
    farm = [UserFactory() for _ in range(5)]
    for n, user in enumerate(farm):
        ip = f"2001:db8:1:2::{n + 1:x}"
        for at in every(30, 3):
            log_entry(at=at, user=user, ip=ip, ip_prefix="2001:db8:1:2::/64")
    detect_bulk_access()
    assert rules_for("net:2001:db8:1:2::/64") == {detectors.SHARED_PREFIX}


def test_one_token_from_many_ips_fires_and_a_roaming_phone_does_not():
    """Ensures that a token used from 6 IPs is flagged, an account on 2 IPs is not."""
    owner, roamer = UserFactory(), UserFactory()
    for n, at in enumerate(every(20, 6)):
        log_entry(
            at=at, user=owner, token_id=77, ip=f"{20 + n}.0.0.9", route_name="api:timeline_public"
        )
    for n, at in enumerate(every(300, 4)):
        log_entry(at=at, user=roamer, ip=f"192.0.2.{n % 2 + 1}")
    detect_bulk_access()
    flag = Flag.objects.get(rule=detectors.MANY_IPS)
    assert flag.principal == "token:77"
    assert flag.token_id == 77 and flag.user_id == owner.pk
    assert flag.evidence["figures"]["distinct_ips"] == 6
    assert rules_for(f"user:{roamer.pk}") == set()


def test_one_account_from_many_ips_without_a_token():
    """Ensures that one account's sessions from 5 IPs are flagged under the account."""
    user = UserFactory()
    for n, at in enumerate(every(60, 5)):
        log_entry(at=at, user=user, ip=f"{40 + n}.1.2.3", delivered=1)
    detect_bulk_access()
    assert rules_for(f"user:{user.pk}") == {detectors.MANY_IPS}


@pytest.mark.parametrize(
    "agent",
    [
        "python-requests/2.32.3",
        "curl/8.5.0",
        "Scrapy/2.11 (+https://scrapy.org)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "CCBot/2.0 (https://commoncrawl.org/faq/)",
        "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko; compatible; "
        "Bytespider)",
    ],
)
def test_scraper_user_agents_fire(agent):
    """Ensures that scraping libraries and AI crawlers are flagged by their User-Agent."""
    log_entry(at=T0, ip="20.171.206.5", user_agent=agent)
    detect_bulk_access()
    flag = Flag.objects.get(rule=detectors.SCRAPER_USER_AGENT)
    assert flag.principal == "ip:20.171.206.5/32"
    assert flag.ip_prefix == "20.171.206.0/24"
    assert flag.evidence["figures"]["user_agents"] == [agent[:120]]


def test_scraper_user_agent_reads_the_crawler_list_once_per_window(monkeypatch):
    """Ensures that judging a window reads the crawler list once, not once per row."""
    from access import crawlers

    for n in range(5):
        log_entry(at=T0 + timedelta(seconds=n), ip="20.171.206.5", user_agent="curl/8.5.0")
    reads = []
    real = crawlers.crawler_agents
    monkeypatch.setattr(detectors, "crawler_agents", lambda: reads.append(1) or real())
    detect_bulk_access()
    assert Flag.objects.filter(rule=detectors.SCRAPER_USER_AGENT).count() == 1
    assert len(reads) == 1  # one window (one minute), five rows


def test_browser_user_agents_do_not_fire():
    """Ensures that ordinary browsers (Firefox, Safari, Chrome) are not scraper agents."""
    browsers = [
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ]
    for n, agent in enumerate(browsers):
        log_entry(at=T0, ip=f"192.0.2.{n + 1}", user_agent=agent)
    detect_bulk_access()
    assert Flag.objects.count() == 0


def test_ignoring_429s_fires_and_one_refusal_does_not():
    """Ensures that asking 6 more times after a 429 is flagged; stopping after one is not."""
    stubborn, polite = UserFactory(), UserFactory()
    for at in every(10, 7):
        log_entry(
            at=at, user=stubborn, ip="192.0.2.5", status=429, delivered=0, refused=20, remaining=0
        )
    log_entry(at=T0, user=polite, ip="192.0.2.6", status=429, delivered=0, refused=20, remaining=0)
    detect_bulk_access()
    assert detectors.IGNORED_429 in rules_for(f"user:{stubborn.pk}")
    assert detectors.IGNORED_429 not in rules_for(f"user:{polite.pk}")
    flag = Flag.objects.get(rule=detectors.IGNORED_429)
    assert flag.evidence["figures"]["requests_after_429"] == 6


def _snapshot():
    return list(
        Flag.objects.order_by("id").values_list(
            "principal",
            "rule",
            "score",
            "first_seen",
            "last_seen",
            "evidence",
            "status",
            "updated_at",
        )
    )


def test_running_twice_changes_nothing_more():
    """Ensures that a second run, and a run from a reset cursor, change no flag."""
    user = UserFactory()
    for i, at in enumerate(every(10, 30)):
        log_entry(at=at, user=user, paging={"max_id": 9000 - i}, user_agent="python-requests/2.31")
    first = detect_bulk_access()
    assert first.flags_created >= 3
    before = _snapshot()
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        again = detect_bulk_access()
        assert (again.entries_read, again.flags_created, again.flags_updated) == (0, 0, 0)
        DetectorCursor.objects.update(last_entry_id=0)
        replay = detect_bulk_access()
    assert replay.entries_read == 30
    assert (replay.flags_created, replay.flags_updated) == (0, 0)
    assert _snapshot() == before


def test_growing_evidence_updates_the_one_open_flag():
    """Ensures that later records grow the same open flag (span, figures, ids), not a new one."""
    user = UserFactory()
    for i, at in enumerate(every(20, 16)):
        log_entry(at=at, user=user, paging={"max_id": 9000 - i}, delivered=1)
    detect_bulk_access()
    flag = Flag.objects.get(rule=detectors.DEEP_PAGING)
    assert flag.evidence["figures"]["max_id_requests"] == 16
    later = T0 + timedelta(minutes=6)
    for i, at in enumerate(every(10, 20, later)):
        log_entry(at=at, user=user, paging={"max_id": 8000 - i}, delivered=1)
    run = detect_bulk_access()
    assert run.flags_updated >= 1
    flags = Flag.objects.filter(rule=detectors.DEEP_PAGING)
    assert flags.count() == 1
    grown = flags.get()
    assert grown.pk == flag.pk
    assert grown.last_seen == later + timedelta(seconds=190)
    assert grown.first_seen == T0
    assert grown.evidence["figures"]["max_id_requests"] > 16
    assert grown.score > flag.score


def test_evidence_ids_are_capped(settings):
    """Ensures that a flag keeps at most ACCESS_FLAG_EVIDENCE_IDS record ids (the newest)."""
    settings.ACCESS_FLAG_EVIDENCE_IDS = 5
    user = UserFactory()
    for at in every(5, 40):
        log_entry(at=at, user=user, user_agent="curl/8.0")
    detect_bulk_access()
    flag = Flag.objects.get(rule=detectors.SCRAPER_USER_AGENT)
    newest = list(AccessLogEntry.objects.order_by("-id").values_list("id", flat=True)[:5])
    assert flag.evidence["entry_ids"] == sorted(newest)
    assert flag.evidence["figures"]["requests"] == 40


def test_thresholds_are_settings(settings):
    """Ensures that the thresholds come from settings: raising one silences its rule."""
    settings.ACCESS_DETECTORS = {
        **settings.ACCESS_DETECTORS,
        "ignored_429": {"window_minutes": 10, "min_refused_requests": 50},
    }
    user = UserFactory()
    for at in every(10, 7):
        log_entry(at=at, user=user, status=429, delivered=0, refused=20, remaining=0)
    detect_bulk_access()
    assert detectors.IGNORED_429 not in rules_for(f"user:{user.pk}")


def test_a_dismissed_flag_is_not_raised_again_on_the_same_evidence():
    """Ensures that replaying the log after a dismissal raises nothing; new activity does."""
    from access.services_review import flag_dismiss

    admin = UserFactory(is_staff=True, is_superuser=True)
    log_entry(at=T0, ip="20.171.206.5", user_agent="GPTBot/1.2")
    detect_bulk_access()
    flag_dismiss(flag=Flag.objects.get(), actor=admin, reason="Allowed crawler")
    DetectorCursor.objects.update(last_entry_id=0)
    detect_bulk_access()
    assert Flag.objects.filter(status=Flag.OPEN).count() == 0
    log_entry(at=T0 + timedelta(hours=3), ip="20.171.206.5", user_agent="GPTBot/1.2")
    with time_machine.travel(T0 + timedelta(hours=3, minutes=1), tick=False):
        detect_bulk_access()
    assert Flag.objects.filter(status=Flag.OPEN).count() == 1


def test_backlog_is_read_in_batches_and_bursts_inside_it_are_found():
    """Ensures that a burst in the middle of a long backlog is found when read in small batches."""
    user = UserFactory()
    for at in every(600, 6):  # quiet before
        log_entry(at=at, user=user, delivered=1)
    for at in every(10, 20, T0 + timedelta(hours=1)):  # 400 posts in ~3 minutes
        log_entry(at=at, user=user)
    for at in every(600, 6, T0 + timedelta(hours=2)):  # quiet after
        log_entry(at=at, user=user, delivered=1)
    run = detect_bulk_access(batch_size=7)
    assert run.entries_read == 32
    assert detectors.READ_VELOCITY in rules_for(f"user:{user.pk}")


def test_command_and_task_run_the_detectors(capsys):
    """Ensures that `manage.py detect_bulk_access` and the beat task both run a detection."""
    from access.tasks import detect_bulk_access_task

    log_entry(at=T0, ip="20.171.206.5", user_agent="CCBot/2.0")
    call_command("detect_bulk_access")
    assert "1 flag(s) raised" in capsys.readouterr().out
    log_entry(at=T0 + timedelta(seconds=5), ip="20.171.206.5", user_agent="CCBot/2.0")
    result = detect_bulk_access_task.delay().get()
    assert result["entries_read"] == 1 and result["flags_updated"] == 1


def test_beat_runs_the_detectors_every_minute(settings):
    """Ensures that the beat schedule runs the detector task every minute."""
    entry = settings.CELERY_BEAT_SCHEDULE["access-detect-bulk-access"]
    assert entry["task"] == "access.tasks.detect_bulk_access_task"
    assert entry["schedule"] == 60.0

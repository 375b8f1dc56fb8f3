"""The bulk-access review: who may see it (a matrix over every page), what each action does
and that every action and every export is written to the admin action log."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from access import services_review
from access.detectors import detect_bulk_access
from access.models import AccessLogEntry, Flag, IPBlock
from accounts.models import ApiToken, Tier
from accounts.services import token_create
from core.models import AdminActionLog, SecurityEvent
from tests.access.review_helpers import T0, every, log_entry
from tests.factories import UserFactory
from verification.selectors import verification_open_flag_reasons

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        yield


def make_reviewer():
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="review_scrape_logs"))
    return user


@pytest.fixture
def reviewer():
    return make_reviewer()


@pytest.fixture
def scraper_flag():
    """A scraper account with a token, flagged for paging deep with python-requests."""
    scraper = UserFactory(username="scraper")
    token_create(user=scraper, name="bot", scopes=["read"])
    token_create(user=scraper, name="bot2", scopes=["read"])
    for i, at in enumerate(every(10, 20)):
        log_entry(at=at, user=scraper, ip="198.51.100.23", paging={"max_id": 5000 - 20 * i},
                  user_agent="python-requests/2.32")  # fmt: skip
    detect_bulk_access()
    return Flag.objects.get(principal=f"user:{scraper.pk}", rule="deep_paging")


def _pages(flag: Flag, entry: AccessLogEntry) -> list[tuple[str, str, dict | None]]:
    """Every review page, admin list, detail, export and action: (method, url, data)."""
    changelist = reverse("admin:access_accesslogentry_changelist")
    return [
        ("get", reverse("admin:access_review:dashboard"), None),
        ("get", reverse("admin:access_review:flags"), None),
        ("get", reverse("admin:access_review:flag", args=[flag.pk]), None),
        ("post", reverse("admin:access_review:flag_act", args=[flag.pk]),
         {"action": services_review.DISMISS, "reason": "matrix"}),
        ("get", changelist, None),
        ("get", f"{changelist}?refused=yes&tier=new&network=198.51.100.0/24&reader=scraper", None),
        ("get", reverse("admin:access_accesslogentry_change", args=[entry.pk]), None),
        ("post", changelist, {"action": "export_csv", "_selected_action": [entry.pk]}),
        ("get", reverse("admin:core_securityevent_changelist"), None),
        ("get", reverse("admin:access_flag_changelist"), None),
        ("get", reverse("admin:access_flag_change", args=[flag.pk]), None),
        ("post", reverse("admin:access_flag_changelist"),
         {"action": services_review.DISMISS, "_selected_action": [flag.pk]}),
        ("get", reverse("admin:access_ipblock_changelist"), None),
        ("get", reverse("admin:access_ipblock_add"), None),
    ]  # fmt: skip


@pytest.mark.parametrize("who", ["anonymous", "user", "staff_without_permission"])
def test_nobody_without_the_permission_reaches_any_review_page(client, scraper_flag, who):
    """Ensures that anonymous users and normal users are sent to the admin login, and staff
    without the review permission get 403, on every page, list, detail, export and action."""
    if who == "user":
        client.force_login(UserFactory())
    elif who == "staff_without_permission":
        staff = UserFactory(is_staff=True)
        # Model permissions on the access models are not enough: the review permission is.
        staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="access")
                                   .exclude(codename="review_scrape_logs"))  # fmt: skip
        client.force_login(staff)
    entry = AccessLogEntry.objects.first()
    for method, url, data in _pages(scraper_flag, entry):
        response = getattr(client, method)(url, data or {})
        if who == "staff_without_permission":
            assert response.status_code == 403, (method, url)
        else:
            assert response.status_code == 302, (method, url)
            assert response["Location"].startswith(reverse("admin:login")), (method, url)
    scraper_flag.refresh_from_db()
    assert scraper_flag.status == Flag.OPEN
    assert not AdminActionLog.objects.exists()


@pytest.mark.parametrize("who", ["reviewer", "superuser"])
def test_reviewers_and_superusers_reach_every_review_page(client, scraper_flag, who):
    """Ensures that staff with the permission, and superusers, can open every page."""
    user = make_reviewer() if who == "reviewer" else UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    entry = AccessLogEntry.objects.first()
    for method, url, data in _pages(scraper_flag, entry):
        response = getattr(client, method)(url, data or {})
        assert response.status_code in (200, 302), (method, url, response.status_code)
        if method == "get":
            assert response.status_code == 200, url


def test_admin_index_links_the_dashboard_for_reviewers_only(client, reviewer):
    """Ensures that the admin index links the dashboard for reviewers, not for other staff."""
    client.force_login(reviewer)
    assert reverse("admin:access_review:dashboard").encode() in client.get("/admin/").content
    client.force_login(UserFactory(is_staff=True))
    assert reverse("admin:access_review:dashboard").encode() not in client.get("/admin/").content


def test_flag_page_shows_the_evidence_with_links_to_the_records(client, reviewer, scraper_flag):
    """Ensures that a flag page states the figures and links to its log records, and that
    the link opens exactly those records in the access log."""
    client.force_login(reviewer)
    page = client.get(reverse("admin:access_review:flag", args=[scraper_flag.pk]))
    html = page.content.decode()
    assert "Followed max_id 20 times" in html
    assert "Max id requests" in html and "Deepest max id" in html
    assert "The 20 cited record(s)" in html
    link = page.context["log_links"][0][1]
    listed = client.get(link)
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 20
    span = client.get(page.context["log_links"][1][1])
    assert span.status_code == 200 and span.context["cl"].result_count == 20


def _act(client, flag, action, reason="Scraping with python-requests"):
    return client.post(
        reverse("admin:access_review:flag_act", args=[flag.pk]),
        {"action": action, "reason": reason},
    )


def _logged(action: str) -> AdminActionLog:
    return AdminActionLog.objects.get(action=action)


def test_restrict_tier_is_applied_and_recorded(client, reviewer, scraper_flag):
    """Ensures that restricting puts the account on the restricted tier and records who,
    what, target, reason and when, shown on the flag."""
    client.force_login(reviewer)
    response = _act(client, scraper_flag, services_review.RESTRICT_TIER)
    assert response.status_code == 302
    user = scraper_flag.user
    user.refresh_from_db()
    assert user.tier_override.slug == Tier.RESTRICTED
    entry = _logged(services_review.RESTRICT_TIER)
    assert entry.actor == reviewer
    assert entry.target_object_id == str(user.pk) and entry.target_repr == "scraper"
    assert entry.reason == "Scraping with python-requests"
    assert entry.created_at == T0 + timedelta(hours=1)
    assert entry.details["flag_id"] == scraper_flag.pk
    scraper_flag.refresh_from_db()
    assert scraper_flag.status == Flag.ACTIONED and scraper_flag.resolved_by == reviewer
    event = SecurityEvent.objects.get(kind=SecurityEvent.TIER_CHANGED, user=user)
    assert event.details["to"] == Tier.RESTRICTED
    page = client.get(response["Location"]).content.decode()
    assert "Restrict the account&#x27;s tier" in page and "Scraping with python-requests" in page


def test_suspend_is_applied_and_recorded(client, reviewer, scraper_flag):
    """Ensures that suspending deactivates the account (its tokens stop working) and is recorded."""
    client.force_login(reviewer)
    _act(client, scraper_flag, services_review.SUSPEND)
    scraper_flag.user.refresh_from_db()
    assert scraper_flag.user.is_active is False
    assert _logged(services_review.SUSPEND).target_repr == "scraper"


def test_revoke_tokens_is_applied_and_recorded(client, reviewer, scraper_flag):
    """Ensures that every active token of the account is revoked and the ids are recorded."""
    client.force_login(reviewer)
    _act(client, scraper_flag, services_review.REVOKE_TOKENS)
    tokens = ApiToken.objects.filter(user_id=scraper_flag.user_id)
    assert tokens.count() == 2 and not tokens.filter(revoked_at__isnull=True).exists()
    assert sorted(_logged(services_review.REVOKE_TOKENS).details["token_ids"]) == sorted(
        tokens.values_list("pk", flat=True)
    )


def test_block_prefix_is_applied_and_recorded(client, reviewer, scraper_flag):
    """Ensures that blocking creates the IP block for the flag's /24 and records it."""
    client.force_login(reviewer)
    _act(client, scraper_flag, services_review.BLOCK_PREFIX)
    block = IPBlock.objects.get()
    assert block.prefix == "198.51.100.0/24" and block.created_by == reviewer
    assert _logged(services_review.BLOCK_PREFIX).details["prefix"] == "198.51.100.0/24"


def test_dismiss_is_recorded_and_needs_a_reason(client, reviewer, scraper_flag):
    """Ensures that a dismissal without a reason is refused and one with a reason recorded."""
    client.force_login(reviewer)
    refused = _act(client, scraper_flag, services_review.DISMISS, reason="   ")
    assert refused.status_code == 400
    scraper_flag.refresh_from_db()
    assert scraper_flag.status == Flag.OPEN
    _act(client, scraper_flag, services_review.DISMISS, reason="A researcher we know")
    scraper_flag.refresh_from_db()
    assert scraper_flag.status == Flag.DISMISSED
    assert "A researcher we know" in scraper_flag.resolution
    assert _logged(services_review.DISMISS).reason == "A researcher we know"


def test_account_actions_on_a_network_flag_are_refused_clearly(client, reviewer):
    """Ensures that restricting a flag about a network says why it cannot, and changes nothing."""
    flag = Flag.objects.create(principal="net:198.51.100.0/24", rule="shared_prefix", score=60,
                               first_seen=T0, last_seen=T0, ip_prefix="198.51.100.0/24",
                               evidence={"summary": "farm"})  # fmt: skip
    client.force_login(reviewer)
    response = _act(client, flag, services_review.RESTRICT_TIER)
    assert response.status_code == 400
    assert "about a network, not an account" in response.content.decode()
    assert not AdminActionLog.objects.exists()


def test_admin_changelist_actions_ask_for_a_reason_and_record_it(client, reviewer, scraper_flag):
    """Ensures that the flag list's admin actions ask for a reason, then apply and record."""
    client.force_login(reviewer)
    url = reverse("admin:access_flag_changelist")
    data = {"action": services_review.SUSPEND, "_selected_action": [scraper_flag.pk]}
    asked = client.post(url, data)
    assert asked.status_code == 200 and b"reason" in asked.content
    assert not AdminActionLog.objects.exists()
    client.post(url, {**data, "apply": "1", "reason": "Farm operator"})
    assert _logged(services_review.SUSPEND).reason == "Farm operator"


def test_csv_export_is_recorded(client, reviewer, scraper_flag):
    """Ensures that exporting the access log returns CSV and writes the export to the log."""
    client.force_login(reviewer)
    ids = list(AccessLogEntry.objects.values_list("pk", flat=True)[:5])
    response = client.post(
        reverse("admin:access_accesslogentry_changelist") + "?refused=no",
        {"action": "export_csv", "_selected_action": ids},
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["id", "record_id", "created_at"] and len(rows) == 6
    entry = _logged(services_review.EXPORT)
    assert entry.actor == reviewer and entry.details["count"] == 5
    assert entry.details["filters"] == {"refused": ["no"]}


def test_access_log_is_read_only_in_the_admin(client, reviewer):
    """Ensures that nobody can add, edit or delete access-log records in the admin."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    entry = log_entry(at=T0)
    assert client.get(reverse("admin:access_accesslogentry_add")).status_code == 403
    client.post(reverse("admin:access_accesslogentry_change", args=[entry.pk]), {"status": 500})
    client.post(reverse("admin:access_accesslogentry_delete", args=[entry.pk]), {"post": "yes"})
    entry.refresh_from_db()
    assert entry.status == 200


def test_ip_block_added_in_the_admin_is_recorded(client, reviewer):
    """Ensures that adding a block by hand normalises the prefix and is recorded."""
    client.force_login(reviewer)
    client.post(
        reverse("admin:access_ipblock_add"), {"prefix": "203.0.113.9/24", "reason": "abuse"}
    )
    assert IPBlock.objects.get().prefix == "203.0.113.0/24"
    assert AdminActionLog.objects.get(action="ip_block_add").actor == reviewer


def test_dashboard_shows_charts_top_readers_refusals_and_flags(client, reviewer, scraper_flag):
    """Ensures that the dashboard draws its charts as inline SVG (no outside asset, no
    script) and lists today's top readers, refusals and open flags by rule."""
    user = UserFactory(username="heavy")
    log_entry(
        at=T0 + timedelta(minutes=30), user=user, status=429, delivered=0, refused=20, remaining=0
    )
    log_entry(at=T0 - timedelta(days=3), user=user, delivered=33)
    client.force_login(reviewer)
    html = client.get(reverse("admin:access_review:dashboard")).content.decode()
    assert html.count('<svg class="chart"') == 2
    assert "new: 400 posts" in html  # the 12:00 bar's tooltip
    assert "scraper" in html and "heavy" in html
    assert "1 × 429" in html
    assert "Deep paging" in html
    assert "<script>" not in html and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", ""
    )


def test_open_scrape_flag_blocks_paid_verification(scraper_flag):
    """Ensures that an open flag makes the account ineligible for verification until reviewed."""
    reasons = verification_open_flag_reasons(user=scraper_flag.user)
    assert reasons == [
        "Our systems flagged unusual bulk reading on your account on 2026-11-26; it must be "
        "reviewed before you can get verified."
    ]
    for flag in Flag.objects.filter(user_id=scraper_flag.user_id):
        services_review.flag_dismiss(flag=flag, actor=None, reason="fine")
    assert verification_open_flag_reasons(user=scraper_flag.user) == []

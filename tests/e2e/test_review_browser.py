"""Browser test: an admin opens a scrape flag, reads its evidence, restricts the account, and
the account is then refused past the restricted tier's 50 posts."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from access.detectors import detect_bulk_access
from core.models import AdminActionLog
from feeds.models import Post
from feeds.services import post_create
from tests.access.review_helpers import log_entry

# The browser fixtures live with the other browser tests (``page`` also re-seeds the tiers).
from tests.e2e.conftest import browser, page, screenshot  # noqa: F401
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _log_in_as(tab, live_server, user) -> None:
    """Share a logged-in session with the browser (the login page has its own tests)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    tab.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def test_admin_restricts_a_flagged_scraper_who_is_then_refused(
    page,  # noqa: F811
    browser,  # noqa: F811
    live_server,
    screenshot,  # noqa: F811
):
    """Ensures that an admin can go from the admin index to a flag, read the evidence, restrict
    the account with a reason (recorded and shown on the flag), and that the account is then
    refused with the 429 page after 50 posts."""
    # Earlier transactional tests flushed the content types this process has cached (the
    # admin action log points at one).
    ContentType.objects.clear_cache()
    author = UserFactory(username="author")
    for n in range(80):
        post_create(author=author, text=f"Post {n}")
    scraper = UserFactory(username="scraper", date_joined=timezone.now() - timedelta(days=40))
    start = timezone.now() - timedelta(minutes=10)
    for i in range(18):
        log_entry(at=start + timedelta(seconds=20 * i), user=scraper, ip="198.51.100.23",
                  paging={"max_id": 9000 - 20 * i}, tier="unverified")  # fmt: skip
    detect_bulk_access()
    admin = UserFactory(username="boss", is_staff=True, is_superuser=True)

    _log_in_as(page, live_server, admin)
    page.goto("/admin/")
    page.get_by_role("link", name="Dashboard: reads by tier, top readers, refusals").click()
    expect(page.get_by_role("heading", name="Open flags by rule")).to_be_visible()
    screenshot(page, "review-dashboard")
    page.get_by_role("link", name="Flags to review").first.click()
    screenshot(page, "review-flag-queue")
    page.get_by_role("row", name="Deep paging").get_by_role("link", name="Deep paging").click()
    expect(page.get_by_text("Followed max_id 18 times within 10 min")).to_be_visible()
    expect(page.get_by_text("The 18 cited record(s)")).to_be_visible()
    expect(page.locator("dl.figures").first).to_contain_text("Max id requests")
    page.get_by_role("link", name="The 18 cited record(s)").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(18)
    screenshot(page, "review-flag-log-records")
    page.go_back()
    page.get_by_label("Action").select_option(label="Restrict the account's tier")
    page.get_by_label("Reason").fill("Pages through the whole public timeline")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("scraper is now on the Restricted tier.")).to_be_visible()
    expect(page.get_by_role("cell", name="Pages through the whole public timeline")).to_be_visible()
    screenshot(page, "review-flag-actioned")
    logged = AdminActionLog.objects.get(action="flag_restrict_tier")
    assert logged.actor == admin and logged.target_repr == "scraper"

    # The scraper, in its own browser context, now has 50 posts a day.
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    reader = context.new_page()
    _log_in_as(reader, live_server, scraper)
    ids = list(Post.objects.order_by("-id").values_list("id", flat=True))
    reader.goto("/public/")
    reader.goto(f"/public/?max_id={ids[19]}")
    reader.goto(f"/public/?max_id={ids[39]}")  # posts 41-60: cut after the 50th
    expect(reader.get_by_text("your daily read budget ran out part-way")).to_be_visible()
    response = reader.goto(f"/public/?max_id={ids[49]}")
    assert response.status == 429
    expect(reader.get_by_role("heading", name="You've read all 50 posts for today")).to_be_visible()
    screenshot(reader, "review-restricted-account-refused")
    context.close()

"""Browser test: buy verification with the dev provider in a real Chromium, see the badge."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

# The browser fixtures live with the other browser tests (``page`` also re-seeds the tiers and
# the plan that earlier transactional tests flushed).
from tests.e2e.conftest import browser, page, screenshot  # noqa: F401

# serialized_rollback keeps the rows data migrations seed (tiers, plans) between tests.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _log_in_as(page, live_server, user) -> None:  # noqa: F811 - the fixture, passed in
    """Share a logged-in session with the browser (the login page has its own tests)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def test_buy_verification_with_dev_provider_and_see_badge(
    page,  # noqa: F811
    live_server,
    screenshot,  # noqa: F811
    eligible_user,
):
    """Ensures that an eligible user can get verified through the TEST MODE checkout and
    then sees the badge on the verification page and on their profile."""
    _log_in_as(page, live_server, eligible_user)
    page.goto("/accounts/settings/verification/")
    expect(page.get_by_text("$8.00 / month")).to_be_visible()
    expect(page.get_by_text("You meet every requirement.")).to_be_visible()
    screenshot(page, "verification-before")

    page.get_by_role("button", name="Get verified").click()
    expect(page.get_by_text("TEST MODE — no real payment.")).to_be_visible()
    screenshot(page, "verification-dev-checkout")
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(page.get_by_text("Payment received (test mode). You are verified.")).to_be_visible()
    expect(page.get_by_text("You are verified.", exact=True)).to_be_visible()
    screenshot(page, "verification-after")

    page.goto(f"/@{eligible_user.username}/")
    expect(page.locator(".badge-verified").first).to_be_visible()
    screenshot(page, "verification-profile-badge")


def test_declined_payment_in_browser_leaves_account_unverified(
    page,  # noqa: F811
    live_server,
    eligible_user,
):
    """Ensures that Decline on the TEST MODE checkout says so and gives no badge."""
    _log_in_as(page, live_server, eligible_user)
    page.goto("/accounts/settings/verification/")
    page.get_by_role("button", name="Get verified").click()
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_text("The payment was declined (test mode).")).to_be_visible()
    expect(page.get_by_role("button", name="Get verified")).to_be_visible()
    eligible_user.refresh_from_db()
    assert not eligible_user.is_verified

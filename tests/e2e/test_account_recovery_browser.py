"""Browser test: a forgotten password reset through the pages and the emailed link, in a real
Chromium, with screenshots of each page."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a-brand-new-passphrase-42"


def test_forgotten_password_is_reset_through_the_emailed_link(page, screenshot):
    """Ensures that someone who forgot their password can follow "Forgot your password?",
    get a link by email, choose a new password on the page it opens, and log in with it; the
    link does not work a second time."""
    UserFactory(username="forgetful", email="forgetful@example.com", display_name="Forgetful")
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    screenshot(page, "password-reset-form")

    page.get_by_label("Your email address").fill("Forgetful@Example.com")
    page.get_by_role("button", name="Send me a reset link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    screenshot(page, "password-reset-sent")

    assert [message.to for message in mail.outbox] == [["forgetful@example.com"]]
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    screenshot(page, "password-reset-confirm")
    page.get_by_role("button", name="Save my new password").click()

    expect(page.get_by_text("Your password was reset")).to_be_visible()
    screenshot(page, "password-reset-done-login")
    page.get_by_label("Username").fill("forgetful")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your timeline")).to_be_visible()

    page.goto(link)
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    screenshot(page, "password-reset-link-used")


def test_email_tab_shows_the_change_form(page, screenshot):
    """Ensures that the settings Email tab shows the address, its state and the form."""
    UserFactory(username="mover", email="mover@example.com")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("mover")
    page.get_by_label("Password", exact=True).fill("correct-horse-battery-staple")
    page.get_by_role("button", name="Log in").click()
    page.goto("/accounts/settings/email/")
    expect(page.get_by_role("heading", name="Change your email address")).to_be_visible()
    page.get_by_label("New email address").fill("taken-or-not@example.com")
    page.get_by_label("Current password").fill("wrong")
    page.get_by_role("button", name="Change email").click()
    expect(page.get_by_text("That is not your current password.")).to_be_visible()
    screenshot(page, "settings-email-error")


def test_too_many_reset_requests_get_a_page_that_says_when(page, screenshot, settings):
    """Ensures that past the per-network limit the browser shows the 429 page with the time it
    frees up, and does not retry by itself."""
    settings.REQUEST_RATE_LIMITS = {
        **settings.REQUEST_RATE_LIMITS,
        "password_reset": [("1/1h", "ip")],
    }
    for _ in range(2):
        page.goto("/accounts/password/reset/")
        page.get_by_label("Your email address").fill("someone@example.com")
        page.get_by_role("button", name="Send me a reset link").click()
    expect(page.get_by_role("heading", name="Too many reset requests")).to_be_visible()
    expect(page.locator("main time")).to_contain_text("UTC")
    screenshot(page, "password-reset-rate-limited")

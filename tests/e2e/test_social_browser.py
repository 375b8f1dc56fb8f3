"""Browser test: a person mentions a friend with a hashtag, the friend sees the notification,
opens the hashtag, finds the post by search and bookmarks it — in a real Chromium, with
screenshots."""

import pytest
from playwright.sync_api import expect

from feeds import services
from tests.e2e.test_web_ui import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()


def test_mention_with_hashtag_notifies_and_is_bookmarked(page, screenshot):
    """Ensures that a post mentioning a friend with a hashtag links both, the friend sees an
    unread notification in the navigation, opens it, follows the hashtag to its timeline,
    finds the post by searching, bookmarks it from the results and finds it under
    Bookmarks; "Mark all read" clears the count."""
    writer = UserFactory(username="writer", display_name="Writer W.")
    UserFactory(username="friend", display_name="Friend F.")
    services.post_create(author=writer, text="An older #picnic post")

    log_in(page, "writer")
    page.get_by_label("What's new, Writer W.?").fill("Lunch in the park, @friend? #Picnic")
    page.get_by_role("button", name="Post", exact=True).click()
    expect(page.get_by_text("Posted.")).to_be_visible()
    post = page.locator("article.post").first
    expect(post.get_by_role("link", name="@friend")).to_have_attribute("href", "/@friend/")
    expect(post.get_by_role("link", name="#Picnic")).to_have_attribute("href", "/tags/picnic/")
    screenshot(page, "social-1-mention-posted")
    log_out(page)

    log_in(page, "friend")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Notifications 1 unread")).to_be_visible()
    nav.get_by_role("link", name="Notifications").click()
    note = page.locator("li.notification").first
    expect(note).to_contain_text("Writer W. mentioned you")
    expect(note).to_contain_text("Lunch in the park")
    screenshot(page, "social-2-notification")

    note.get_by_role("link", name="#Picnic").click()
    expect(page.get_by_role("heading", name="#picnic")).to_be_visible()
    expect(page.locator("article.post")).to_have_count(2)
    expect(page.locator("article.post").first).to_contain_text("Lunch in the park")
    screenshot(page, "social-3-hashtag")

    box = page.locator("form.nav-search").get_by_label("Search")
    box.fill("park lunch")
    box.press("Enter")
    expect(page.get_by_role("heading", name="Posts", exact=True)).to_be_visible()
    found = page.locator("article.post")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("Lunch in the park")
    found.get_by_role("button", name="☆ Bookmark").click()
    expect(page.get_by_text("Bookmarked. Find it under Bookmarks.")).to_be_visible()
    expect(
        page.locator("article.post").first.get_by_role("button", name="★ Bookmarked")
    ).to_be_visible()
    screenshot(page, "social-3b-search-bookmarked")

    nav.get_by_role("link", name="Bookmarks").click()
    expect(page.get_by_role("heading", name="Bookmarks")).to_be_visible()
    expect(page.locator("article.post")).to_have_count(1)
    expect(page.locator("article.post")).to_contain_text("Lunch in the park")
    screenshot(page, "social-4-bookmarks")

    nav.get_by_role("link", name="Notifications").click()
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_text("All notifications are marked as read.")).to_be_visible()
    expect(nav.locator(".unread-count")).to_have_count(0)
    screenshot(page, "social-5-all-read")

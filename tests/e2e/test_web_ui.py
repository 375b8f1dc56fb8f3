"""Browser tests: the web UI's main journeys in a real Chromium, with screenshots."""

import re

import pytest
from playwright.sync_api import expect

from feeds import services
from tests.e2e.conftest import seed_rows
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, username: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your timeline")).to_be_visible()


def test_sign_up_then_post_and_see_it_on_home(page, screenshot):
    """Ensures that a newcomer can sign up, sees a live NFC character count, posts, and finds
    the post on their home timeline."""
    page.goto("/accounts/signup/")
    screenshot(page, "signup")
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_label("Password again").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Welcome, @newcomer!")).to_be_visible()

    composer = page.get_by_label("What's new, newcomer?")
    composer.fill("Cafe\u0301 ")  # "e" + combining accent: one character after NFC
    expect(page.locator("#composer-count")).to_have_text("5 / 500")
    composer.fill("Hello from the browser! https://example.com/docs")
    page.get_by_role("button", name="Post", exact=True).click()

    expect(page.get_by_text("Posted.")).to_be_visible()
    post = page.locator("article.post").first
    expect(post).to_contain_text("Hello from the browser!")
    expect(post.get_by_role("link", name="https://example.com/docs")).to_be_visible()
    screenshot(page, "home")


def test_follow_someone_then_see_their_post_on_home(page, screenshot):
    """Ensures that following a person from their profile brings their posts to home."""
    reader = UserFactory(username="reader")
    writer = UserFactory(username="writer", display_name="Writer W.", bio="I write things.")
    services.post_create(author=writer, text="A post from the writer")
    log_in(page, reader.username)
    expect(page.get_by_text("A post from the writer")).to_have_count(0)

    page.goto("/@writer/")
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_text("You follow @writer now.")).to_be_visible()
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    expect(page.locator(".stats")).to_contain_text("1 follower")
    screenshot(page, "profile")

    page.get_by_role("link", name="Home").click()
    expect(page.locator("article.post").first).to_contain_text("A post from the writer")


def test_like_and_repost(page):
    """Ensures that like and repost buttons work, show their state and counts, and that the
    repost appears on the reader's timeline."""
    reader = UserFactory(username="fan", display_name="Fan")
    writer = UserFactory(username="star")
    services.follow_create(follower=reader, followee=writer)
    services.post_create(author=writer, text="Like me, repost me")
    log_in(page, reader.username)

    post = page.locator("article.post", has_text="Like me, repost me").first
    post.get_by_role("button", name=re.compile("Like")).click()
    post = page.locator("article.post", has_text="Like me, repost me").first
    expect(post.get_by_role("button", name="♥ Liked 1")).to_have_attribute("aria-pressed", "true")

    post.get_by_role("button", name=re.compile("Repost")).click()
    expect(page.get_by_text("Reposted.", exact=True)).to_be_visible()
    repost = page.locator("article.post").first
    expect(repost).to_contain_text("Fan reposted")
    expect(repost).to_contain_text("Like me, repost me")
    expect(repost.get_by_role("button", name="↻ Reposted 1")).to_be_visible()


def test_reply_and_read_the_thread(page, screenshot):
    """Ensures that a reader can reply from a post page and then reads the whole thread there:
    the ancestor, the post and its replies."""
    reader = UserFactory(username="replier")
    writer = UserFactory(username="op", display_name="Original Poster")
    root = services.post_create(author=writer, text="Start of the thread")
    middle = services.post_create(author=writer, text="Second in the thread", reply_to=root)
    log_in(page, reader.username)

    page.goto(f"/posts/{middle.pk}/")
    expect(page.locator(".thread-ancestors")).to_contain_text("Start of the thread")
    expect(page.locator("article.post.focus")).to_contain_text("Second in the thread")
    page.get_by_label("Reply to @op").fill("My answer to the thread")
    page.get_by_role("button", name="Reply", exact=True).click()

    expect(page.get_by_text("Your reply was posted.")).to_be_visible()
    replies = page.locator(".thread-replies")
    expect(replies).to_contain_text("My answer to the thread")
    expect(replies).to_contain_text("Replying to @op")
    screenshot(page, "post")


def test_log_out_then_log_in(page, screenshot):
    """Ensures that logging out lands on the public timeline and logging back in goes home."""
    user = UserFactory(username="returner")
    services.post_create(author=user, text="I will be back")
    log_in(page, user.username)
    page.goto("/accounts/settings/")
    expect(page.get_by_role("link", name="Developer")).to_be_visible()
    screenshot(page, "settings")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Public timeline")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Log in")).to_be_visible()
    screenshot(page, "public")

    nav.get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill("returner")
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your timeline")).to_be_visible()
    expect(page.locator("article.post").first).to_contain_text("I will be back")


def test_pages_on_a_phone(browser, live_server, screenshot):
    """Ensures that the main pages fit a phone screen without sideways scrolling."""
    seed_rows()
    writer = UserFactory(username="mobile")
    services.post_create(author=writer, text="A fairly long post " * 10 + "https://example.com/")
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url)
    try:
        tab = context.new_page()
        for path, name in [("/public/", "public-phone"), ("/@mobile/", "profile-phone")]:
            tab.goto(path)
            overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
            screenshot(tab, name)
    finally:
        context.close()

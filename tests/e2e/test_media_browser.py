"""Browser test: a person posts photos with alt text from the composer, a friend sees them on
the home timeline, the hashtag page and the post page, and opens one at full size — in a
real Chromium, with screenshots."""

import pytest
from playwright.sync_api import expect

from feeds import services
from tests.e2e.test_web_ui import log_in
from tests.factories import UserFactory
from tests.media_helpers import photo_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_photos_with_alt_text_are_posted_and_shown(page, screenshot, tmp_path):
    """Ensures that the composer's "Add images" takes two photos with alt texts, the post
    shows both thumbnails (loaded, with their alt texts) to a follower on the home timeline,
    the hashtag timeline and the post page, and a thumbnail links to the full-size image."""
    writer = UserFactory(username="writer", display_name="Writer W.")
    friend = UserFactory(username="friend", display_name="Friend F.")
    services.follow_create(follower=friend, followee=writer)
    photos = []
    for seed in range(2):
        path = tmp_path / f"park-{seed}.jpg"
        path.write_bytes(photo_bytes(seed=seed))
        photos.append(path)

    log_in(page, "writer")
    page.get_by_label("What's new, Writer W.?").fill("Sunset in the park, @friend #picnic")
    page.get_by_text("Add images").click()
    page.get_by_label("Image 1", exact=True).set_input_files(str(photos[0]))
    page.locator("#id_alt_1").fill("A low sun over a blue evening sky")
    page.get_by_label("Image 2", exact=True).set_input_files(str(photos[1]))
    page.locator("#id_alt_2").fill("The same sun a little later, further right")
    screenshot(page, "media-1-composer")
    page.get_by_role("button", name="Post", exact=True).click()
    expect(page.get_by_text("Posted.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    log_in(page, "friend")
    post = page.locator("article.post").first
    images = post.locator(".post-media img")
    expect(images).to_have_count(2)
    expect(images.first).to_have_attribute("alt", "A low sun over a blue evening sky")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.post-media img')].every(i => i.naturalWidth > 0)"
    )
    screenshot(page, "media-2-home")
    page.goto("/tags/picnic/")
    expect(page.locator(".post-media img")).to_have_count(2)
    page.locator("article.post a.post-time").first.click()
    expect(page.locator(".post-media img")).to_have_count(2)
    screenshot(page, "media-3-post-page")
    full = page.locator(".post-media a").first.get_attribute("href")
    response = page.request.get(full)
    assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"].startswith("private")

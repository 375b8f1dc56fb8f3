"""Tests for mentions and hashtags: what counts (Mastodon's rules), what is stored, and how
pages and the API show them."""

import pytest
from django.urls import reverse

from feeds import services
from feeds.models import Mention, PostTag, Tag
from feeds.references import hashtag_names, mentioned_usernames, tag_normalize
from feeds.text import render_post_html
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi @alice", ["alice"]),
        ("@Alice, @BOB and @alice again.", ["alice", "bob"]),
        ("mail me@alice.example", []),
        ("remote @alice@elsewhere.example is not local", []),
        ("a link https://x.example/@alice is not a mention", []),
        ("(@carol)", ["carol"]),
        ("@" + "a" * 31, []),  # longer than any username
    ],
)
def test_mentions_follow_mastodons_rules(text, expected):
    """Ensures that only @username not inside a word, an address, a URL or a remote handle
    counts as a mention, lower-cased, once each."""
    assert mentioned_usernames(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#Django and #django", ["django"]),
        ("#123 is a number, #a1 a tag", ["a1"]),
        ("https://x.example/page#section", []),
        ("a#b c=#d (#e)", ["e"]),
        ("#Café #ＣＡＦＥ", ["café", "cafe"]),
        ("#" + "x" * 101, []),
    ],
)
def test_hashtags_follow_mastodons_rules(text, expected):
    """Ensures that a hashtag needs a non-digit, is not taken from URLs or the middle of a
    word, and is normalised (NFKC, casefolded) and capped in length."""
    assert hashtag_names(text) == expected


def test_post_create_stores_mentions_of_active_accounts_and_tags():
    """Ensures that writing a post stores its mentions (existing, active accounts only) and
    its tags, creating each tag once."""
    author = UserFactory(username="writer")
    friend = UserFactory(username="Friend")
    gone = UserFactory(username="gone", is_active=False)
    post = services.post_create(author=author, text="@friend @gone @nobody #Tea #tea #Cake")
    services.post_create(author=author, text="more #tea")
    assert list(Mention.objects.filter(post=post).values_list("user_id", flat=True)) == [friend.pk]
    assert not Mention.objects.filter(user=gone).exists()
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["cake", "tea"]
    assert PostTag.objects.filter(tag__name="tea").count() == 2


def test_rendering_links_only_resolved_mentions_and_escapes():
    """Ensures that the HTML links hashtags and the mentions resolved at writing time, and
    escapes everything the author typed."""
    html = render_post_html("<b>@ann</b> @bob #Tag", frozenset({"ann"}), "https://h.example")
    assert '<a href="https://h.example/@ann/" class="u-url mention">@<span>ann</span></a>' in html
    assert "@bob" in html and "/@bob/" not in html
    assert 'href="https://h.example/tags/tag/" class="mention hashtag" rel="tag">#<span>Tag' in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_pages_link_mentions_and_hashtags(client):
    """Ensures that a timeline page shows a mention as a link to the profile and a hashtag as
    a link to its timeline."""
    UserFactory(username="friend")
    services.post_create(author=UserFactory(), text="hello @friend #Sunny")
    content = client.get(reverse("feeds:public")).content.decode()
    assert 'href="/@friend/" class="u-url mention"' in content
    assert 'href="/tags/sunny/" class="mention hashtag"' in content


def test_api_status_carries_mentions_and_tags(client):
    """Ensures that the status entity lists the mentions (id, username, url, acct) and the
    tags (name, url) and links them in ``content`` with absolute URLs."""
    friend = UserFactory(username="friend")
    post = services.post_create(author=UserFactory(), text="hi @Friend #Tea")
    data = client.get(f"/api/v1/statuses/{post.pk}").json()
    assert data["mentions"] == [
        {
            "id": str(friend.pk),
            "username": "friend",
            "url": "http://testserver/@friend/",
            "acct": "friend",
        }
    ]
    assert data["tags"] == [{"name": "tea", "url": "http://testserver/tags/tea/"}]
    assert 'href="http://testserver/@friend/"' in data["content"]


def test_tag_normalize_is_case_and_width_blind():
    """Ensures that tags compare without regard to case or full-width forms."""
    assert tag_normalize("ＰＹＴＨＯＮ") == tag_normalize("python") == "python"

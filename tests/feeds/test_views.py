"""Tests for the feed pages: timelines, profiles, post pages, the composer and the buttons."""

from unittest import mock

import pytest
from django.urls import reverse

from access.gate import ReadBudgetExhausted, ReadGrant, window_reset_at
from feeds import services
from feeds.models import Follow, Like, Post
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def me(client):
    user = UserFactory(username="me", display_name="Me Myself")
    client.force_login(user)
    return user


# --- Pages --------------------------------------------------------------------------------


def test_home_redirects_visitors_to_public(client):
    """Ensures that a logged-out visitor asking for home is sent to the public timeline."""
    response = client.get(reverse("feeds:home"))
    assert response.status_code == 302
    assert response.url == reverse("feeds:public")


def test_home_shows_own_and_followed_posts_with_composer(client, me):
    """Ensures that home shows the composer, one's own posts and followed people's posts and
    reposts, and not strangers' posts."""
    friend, stranger = UserFactory(username="friend"), UserFactory(username="stranger")
    services.follow_create(follower=me, followee=friend)
    services.post_create(author=me, text="my own words")
    services.post_create(author=friend, text="friend's words")
    services.repost_create(user=friend, post=services.post_create(author=stranger, text="boosted"))
    services.post_create(author=stranger, text="stranger's words")
    response = client.get(reverse("feeds:home"))
    content = response.content.decode()
    assert response.status_code == 200
    assert "500 characters max, counted after Unicode normalisation" in content
    assert "my own words" in content
    assert "friend&#x27;s words" in content
    assert "boosted" in content and "reposted" in content
    assert "stranger&#x27;s words" not in content


def test_public_shows_everyone_and_escapes_and_linkifies(client):
    """Ensures that the public timeline shows posts with user text escaped and links made safe."""
    author = UserFactory(username="writer", display_name="<b>Bold</b>")
    services.post_create(author=author, text="<script>x</script> see https://example.com/a.")
    content = client.get(reverse("feeds:public")).content.decode()
    assert "<script>x</script>" not in content
    assert "&lt;script&gt;x&lt;/script&gt;" in content
    assert "&lt;b&gt;Bold&lt;/b&gt;" in content
    assert '<a href="https://example.com/a" rel="nofollow noopener noreferrer"' in content


def test_verified_badge_is_shown_with_an_accessible_label(client):
    """Ensures that a verified author's posts carry the "Verified" badge with a label."""
    services.post_create(author=UserFactory(is_verified=True), text="verified words")
    services.post_create(author=UserFactory(), text="plain words")
    content = client.get(reverse("feeds:public")).content.decode()
    assert content.count('aria-label="Verified account"') == 1


def test_profile_shows_counts_and_follow_button(client, me):
    """Ensures that a profile shows the display name, bio, counts from the row and a button."""
    author = UserFactory(username="Someone", display_name="Some One", bio="Hello bio")
    services.post_create(author=author, text="profile post")
    response = client.get(reverse("feeds:profile", args=["someone"]))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Some One" in content and "@Someone" in content and "Hello bio" in content
    assert "<strong>1</strong> post</li>" in content
    assert "<strong>0</strong> followers</li>" in content
    assert ">Follow</button>" in content
    assert "profile post" in content


def test_profile_of_unknown_user_is_404(client):
    """Ensures that a profile that does not exist is a 404 page."""
    assert client.get(reverse("feeds:profile", args=["nobody"])).status_code == 404


def test_post_page_shows_ancestors_post_and_replies(client, me):
    """Ensures that a post page shows its ancestors, the post, its replies and a reply form."""
    author = UserFactory(username="op")
    root = services.post_create(author=author, text="root text")
    middle = services.post_create(author=me, text="middle text", reply_to=root)
    services.post_create(author=author, text="leaf text", reply_to=middle)
    services.post_create(author=author, text="unrelated text")
    response = client.get(reverse("feeds:post", args=[middle.pk]))
    assert response.status_code == 200
    assert [p.text for p in response.context["ancestors"]] == ["root text"]
    assert response.context["post"].text == "middle text"
    assert [p.text for p in response.context["descendants"]] == ["leaf text"]
    content = response.content.decode()
    assert "Replying to" in content and "unrelated text" not in content
    assert f'name="reply_to" value="{middle.pk}"' in content


@pytest.mark.parametrize("post_id", [999999, 2**64])
def test_missing_post_is_404(client, post_id):
    """Ensures that a post id that does not exist, however large, is a 404 and not a 500."""
    assert client.get(f"/posts/{post_id}/").status_code == 404


@pytest.mark.parametrize("name", ["feeds:public", "feeds:home"])
def test_load_more_pages_by_max_id(client, me, name):
    """Ensures that a full page links to the next one by max_id and the next page continues
    where the first stopped, without repeating a post."""
    posts = [PostFactory(author=me) for _ in range(25)]
    first = client.get(reverse(name))
    assert len(first.context["posts"]) == 20
    next_max_id = first.context["next_max_id"]
    assert next_max_id == posts[5].pk
    assert f'href="?max_id={next_max_id}"' in first.content.decode()
    second = client.get(reverse(name), {"max_id": next_max_id})
    assert [p.pk for p in second.context["posts"]] == [p.pk for p in reversed(posts[:5])]
    assert second.context["next_max_id"] is None
    assert "Load more" not in second.content.decode()


@pytest.mark.parametrize("max_id", ["abc", "-1", "0", "1e9", "12; DROP", "9" * 30, "\x00"])
@pytest.mark.parametrize("name", ["feeds:public", "feeds:home", "feeds:profile"])
def test_bad_max_id_is_a_clear_400(client, me, max_id, name):
    """Ensures that garbage in max_id is refused with a 400 that says what is wrong."""
    args = ["me"] if name == "feeds:profile" else []
    response = client.get(reverse(name, args=args), {"max_id": max_id})
    assert response.status_code == 400
    assert "max_id" in response.content.decode()


def test_every_page_passes_posts_through_the_read_gate(client, me):
    """Ensures that each page showing posts hands them to the read gate and renders only what
    it returns."""
    root = services.post_create(author=me, text="first of thread")
    reply = services.post_create(author=me, text="second of thread", reply_to=root)
    pages = [
        reverse("feeds:home"),
        reverse("feeds:public"),
        reverse("feeds:profile", args=["me"]),
        reverse("feeds:post", args=[root.pk]),
    ]

    def deliver_first_only(*, request, posts):
        return posts[:1]

    with mock.patch("feeds.views.posts_deliver", side_effect=deliver_first_only) as gate:
        for url in pages:
            content = client.get(url).content.decode()
            shown = "first of thread" if url.startswith("/posts/") else "second of thread"
            hidden = "second of thread" if url.startswith("/posts/") else "first of thread"
            assert shown in content, url
            assert hidden not in content, url
            assert "daily read budget ran out" in content, url
    assert gate.call_count == len(pages)
    thread_call = gate.call_args_list[-1]
    assert [p.pk for p in thread_call.kwargs["posts"]] == [root.pk, reply.pk]


def test_exhausted_budget_is_a_friendly_429(client, me):
    """Ensures that a reader with no budget left gets a 429 page saying when it resets."""
    PostFactory(author=me)
    grant = ReadGrant(
        delivered_ids=[],
        refused_count=1,
        newly_charged=0,
        limit=500,
        used=500,
        reset_at=window_reset_at(),
        tier="new",
    )
    with mock.patch("feeds.views.posts_deliver", side_effect=ReadBudgetExhausted(grant)):
        for url in [reverse("feeds:home"), reverse("feeds:public")]:
            response = client.get(url)
            assert response.status_code == 429
            content = response.content.decode()
            assert "00:00 UTC" in content and "500" in content


# --- The composer -------------------------------------------------------------------------


def test_posting_stores_the_post_and_goes_back(client, me):
    """Ensures that a valid post is stored NFC-normalised and the author is sent back."""
    response = client.post(
        reverse("feeds:post_create"), {"text": "Cafe\u0301!", "next": reverse("feeds:public")}
    )
    assert response.status_code == 302
    assert response.url == reverse("feeds:public")
    assert Post.objects.get().text == "Café!"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cannot be empty"),
        ("   \n ", "cannot be empty"),
        ("x" * 501, "at most 500 characters; this one has 501"),
        ("nul\x00byte", "control characters (such as NUL)"),
    ],
)
def test_bad_posts_are_refused_with_a_message(client, me, text, message):
    """Ensures that empty, too long and NUL-byte posts re-render the composer with a 400 and
    the reason, and store nothing."""
    response = client.post(reverse("feeds:post_create"), {"text": text})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Post.objects.exists()


def test_500_characters_after_normalisation_is_accepted(client, me):
    """Ensures that the limit counts code points after NFC: 500 "é" typed as two code points
    each is accepted."""
    response = client.post(reverse("feeds:post_create"), {"text": "e\u0301" * 500})
    assert response.status_code == 302
    assert len(Post.objects.get().text) == 500


def test_reply_goes_to_the_thread(client, me):
    """Ensures that a reply is stored against its parent and lands on the thread page."""
    parent = services.post_create(author=UserFactory(), text="parent")
    response = client.post(
        reverse("feeds:post_create"), {"text": "a reply", "reply_to": str(parent.pk)}
    )
    reply = Post.objects.get(text="a reply")
    assert reply.reply_to_id == parent.pk
    assert response.url == f"{reverse('feeds:post', args=[parent.pk])}#post-{reply.pk}"


@pytest.mark.parametrize("reply_to", ["999999", "abc"])
def test_reply_to_a_missing_post_is_refused(client, me, reply_to):
    """Ensures that replying to a post that does not exist is a 400 with a message."""
    response = client.post(reverse("feeds:post_create"), {"text": "hi", "reply_to": reply_to})
    assert response.status_code == 400
    assert not Post.objects.exists()


def test_posting_needs_login_and_post(client):
    """Ensures that visitors cannot post and GET does not post."""
    assert client.post(reverse("feeds:post_create"), {"text": "hi"}).status_code == 302
    client.force_login(UserFactory())
    assert client.get(reverse("feeds:post_create")).status_code == 405
    assert not Post.objects.exists()


# --- Buttons ------------------------------------------------------------------------------


def test_like_and_unlike(client, me):
    """Ensures that like and unlike change the like and count, and go back to ``next``."""
    post = PostFactory()
    back = reverse("feeds:public") + f"#post-{post.pk}"
    response = client.post(reverse("feeds:like", args=[post.pk]), {"next": back})
    assert response.url == back
    post.refresh_from_db()
    assert post.likes_count == 1 and Like.objects.filter(user=me, post=post).exists()
    page = client.get(reverse("feeds:public")).content.decode()
    assert "♥ Liked 1" in page
    client.post(reverse("feeds:unlike", args=[post.pk]))
    post.refresh_from_db()
    assert post.likes_count == 0


def test_repost_and_undo(client, me):
    """Ensures that repost and undo create and remove the repost and move the count."""
    post = PostFactory()
    client.post(reverse("feeds:repost", args=[post.pk]))
    post.refresh_from_db()
    assert post.reposts_count == 1
    assert Post.objects.filter(author=me, repost_of=post).exists()
    client.post(reverse("feeds:unrepost", args=[post.pk]))
    post.refresh_from_db()
    assert post.reposts_count == 0
    assert not Post.objects.filter(author=me, repost_of=post).exists()


def test_next_must_be_our_own_site(client, me):
    """Ensures that ``next`` pointing at another site is ignored (no open redirect)."""
    post = PostFactory()
    response = client.post(
        reverse("feeds:like", args=[post.pk]), {"next": "https://evil.example/phish"}
    )
    assert response.url == reverse("feeds:post", args=[post.pk])


def test_follow_and_unfollow(client, me):
    """Ensures that follow and unfollow buttons change the follow and the counts."""
    other = UserFactory(username="other")
    client.post(reverse("feeds:follow", args=["other"]))
    assert Follow.objects.filter(follower=me, followee=other).exists()
    other.refresh_from_db()
    assert other.followers_count == 1
    assert (
        ">Unfollow</button>"
        in client.get(reverse("feeds:profile", args=["other"])).content.decode()
    )
    client.post(reverse("feeds:unfollow", args=["other"]))
    assert not Follow.objects.exists()


def test_following_yourself_is_refused_with_a_message(client, me):
    """Ensures that following oneself is refused with a message, not an error page."""
    response = client.post(reverse("feeds:follow", args=["me"]), follow=True)
    assert response.status_code == 200
    assert "You cannot follow yourself." in response.content.decode()
    assert not Follow.objects.exists()


def test_delete_own_post_but_not_someone_elses(client, me):
    """Ensures that one can delete one's own post (leaving its page) and not another's (403)."""
    mine, theirs = PostFactory(author=me), PostFactory()
    response = client.post(
        reverse("feeds:delete", args=[mine.pk]), {"next": reverse("feeds:post", args=[mine.pk])}
    )
    assert response.url == reverse("feeds:home")
    assert not Post.objects.filter(pk=mine.pk).exists()
    assert client.post(reverse("feeds:delete", args=[theirs.pk])).status_code == 403
    assert Post.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("name", ["like", "unlike", "repost", "unrepost", "delete"])
def test_buttons_need_login(client, name):
    """Ensures that the post buttons send a visitor to log in and change nothing."""
    post = PostFactory()
    response = client.post(reverse(f"feeds:{name}", args=[post.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert Post.objects.filter(pk=post.pk, likes_count=0, reposts_count=0).exists()


def test_buttons_refuse_get(client, me):
    """Ensures that actions are POST only (a link or prefetch cannot like or delete)."""
    post = PostFactory(author=me)
    assert client.get(reverse("feeds:delete", args=[post.pk])).status_code == 405
    assert client.get(reverse("feeds:follow", args=["me"])).status_code == 405
    assert Post.objects.filter(pk=post.pk).exists()

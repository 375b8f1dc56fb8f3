"""Statuses: posting (JSON, form, Idempotency-Key), reading, deleting, context, favourites,
reblogs and who did them."""

import pytest

from feeds.models import Like, Post
from feeds.services import follow_create, like_create, post_create, repost_create
from tests.api.conftest import assert_schema
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db

STATUSES = "/api/v1/statuses"


def test_post_with_json_and_form(alice):
    """Ensures that a status can be posted as JSON or as a form, and comes back as a Status."""
    response = alice.client.post(
        STATUSES, {"status": "Hello <world> https://x.example/a."}, format="json"
    )
    assert response.status_code == 200
    assert_schema(response, "statuses_create")
    data = response.json()
    assert data["content"] == (
        '<p>Hello &lt;world&gt; <a href="https://x.example/a" rel="nofollow noopener noreferrer" '
        'target="_blank">https://x.example/a</a>.</p>'
    )
    assert data["account"]["id"] == str(alice.user.pk)
    assert data["visibility"] == "public" and data["reblog"] is None
    response = alice.client.post(STATUSES, {"status": "form body", "visibility": "public"})
    assert response.status_code == 200
    assert Post.objects.filter(author=alice.user).count() == 2


def test_reply(alice, bob):
    """Ensures that in_reply_to_id makes a reply, pointing at the parent and its author."""
    parent = post_create(author=bob.user, text="parent")
    response = alice.client.post(
        STATUSES, {"status": "child", "in_reply_to_id": str(parent.pk)}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["in_reply_to_id"] == str(parent.pk)
    assert response.json()["in_reply_to_account_id"] == str(bob.user.pk)
    # JSON integers are accepted too, as some clients send them
    response = alice.client.post(
        STATUSES, {"status": "c2", "in_reply_to_id": parent.pk}, format="json"
    )
    assert response.status_code == 200


def test_idempotency_key(alice, bob):
    """Ensures that the same Idempotency-Key from the same account returns the first status and
    posts nothing new, while another account's identical key is independent."""
    first = alice.client.post(STATUSES, {"status": "once"}, HTTP_IDEMPOTENCY_KEY="abc")
    again = alice.client.post(STATUSES, {"status": "once"}, HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Post.objects.filter(author=alice.user).count() == 1
    other = bob.client.post(STATUSES, {"status": "once"}, HTTP_IDEMPOTENCY_KEY="abc")
    assert other.json()["id"] != first.json()["id"]
    fresh = alice.client.post(STATUSES, {"status": "once"}, HTTP_IDEMPOTENCY_KEY="def")
    assert fresh.json()["id"] != first.json()["id"]


def test_idempotency_key_after_a_refusal_can_be_reused(alice):
    """Ensures that a refused post does not burn its Idempotency-Key."""
    assert alice.client.post(STATUSES, {"status": ""}, HTTP_IDEMPOTENCY_KEY="k").status_code == 422
    response = alice.client.post(STATUSES, {"status": "now"}, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body,code",
    [
        ({}, 422),
        ({"status": ""}, 422),
        ({"status": "   "}, 422),
        ({"status": "x" * 501}, 422),
        ({"status": "nul\x00byte"}, 422),
        ({"status": 42}, 422),
        ({"status": ["a", "b"]}, 422),
        ({"status": {"a": 1}}, 422),
        ({"status": "hi", "in_reply_to_id": "abc"}, 422),
        ({"status": "hi", "in_reply_to_id": "-5"}, 422),
        ({"status": "hi", "in_reply_to_id": str(2**64)}, 422),
        ({"status": "hi", "in_reply_to_id": "999999"}, 404),
        ({"status": "hi", "visibility": "direct"}, 422),
        ({"status": "hi", "spoiler_text": "cw"}, 422),
        ({"status": "hi", "media_ids": ["1"]}, 422),
    ],
)
def test_post_bad_input(alice, body, code):
    """Ensures that bad status bodies get a 4xx with a readable error and post nothing."""
    response = alice.client.post(STATUSES, body, format="json")
    assert response.status_code == code, response.content
    assert response.json()["error"]
    assert_schema(response, "statuses_create")
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    "payload,content_type",
    [
        (b'{"status": ', "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"<xml/>", "application/xml"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    ],
)
def test_post_malformed_bodies_are_4xx(alice, payload, content_type):
    """Ensures that malformed JSON, form or unknown bodies are 4xx, never 500."""
    response = alice.client.generic("POST", STATUSES, payload, content_type=content_type)
    assert 400 <= response.status_code < 500, response.content
    assert "error" in response.json()


def test_post_form_with_invalid_utf8_is_refused(alice):
    """Ensures that a form body with invalid UTF-8 is a 400 saying so (as a JSON body is),
    never a 500 and never a post stored with replacement characters."""
    response = alice.client.generic(
        "POST", STATUSES, b"status=%FF%FE", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["error"]
    assert not Post.objects.exists()


def test_post_needs_token_and_write_scope(anon, reader):
    """Ensures that posting needs a token (401) with the write scope (403)."""
    assert anon.post(STATUSES, {"status": "x"}).status_code == 401
    assert reader.client.post(STATUSES, {"status": "x"}).status_code == 403
    assert not Post.objects.exists()


def test_get_status_and_reblog_shape(alice, bob):
    """Ensures that GET returns a Status; a reblog wraps its original and the viewer's flags
    sit on the original."""
    original = post_create(author=bob.user, text="original")
    like_create(user=alice.user, post=original)
    repost = repost_create(user=bob.user, post=original)
    response = alice.client.get(f"{STATUSES}/{repost.pk}")
    assert response.status_code == 200
    assert_schema(response, "statuses_get")
    data = response.json()
    assert data["content"] == "" and data["reblog"]["id"] == str(original.pk)
    assert data["reblog"]["favourited"] is True
    assert data["reblog"]["reblogs_count"] == 1 and data["reblog"]["favourites_count"] == 1
    plain = alice.client.get(f"{STATUSES}/{original.pk}").json()
    assert plain["favourited"] is True and plain["reblogged"] is False


def test_get_status_not_found(alice, anon):
    """Ensures that unknown or malformed status ids are 404 with Mastodon's error."""
    for bad in ["999999", "abc", "-1", "0", str(2**63), "\u0661\u0662"]:
        response = alice.client.get(f"{STATUSES}/{bad}")
        assert response.status_code == 404, bad
        assert response.json() == {"error": "Record not found"}
    assert_schema(response, "statuses_get")
    post = PostFactory()
    assert anon.get(f"{STATUSES}/{post.pk}").status_code == 200  # public, metered by IP


def test_delete_own_status(alice):
    """Ensures that the author can delete a status and gets it back with its source text."""
    post = post_create(author=alice.user, text="bye")
    response = alice.client.delete(f"{STATUSES}/{post.pk}")
    assert response.status_code == 200
    assert_schema(response, "statuses_delete")
    assert response.json()["text"] == "bye"
    assert not Post.objects.filter(pk=post.pk).exists()
    assert alice.client.delete(f"{STATUSES}/{post.pk}").status_code == 404


def test_nobody_deletes_another_users_status(alice, bob, anon, reader):
    """Ensures that another account, an anonymous caller or a read-only token cannot delete
    (another's post is 404, as on Mastodon: the answer does not say whose it is)."""
    post = post_create(author=bob.user, text="mine")
    response = alice.client.delete(f"{STATUSES}/{post.pk}")
    assert response.status_code == 404
    assert response.json()["error"] == "Record not found"
    assert anon.delete(f"{STATUSES}/{post.pk}").status_code == 401
    assert reader.client.delete(f"{STATUSES}/{post.pk}").status_code == 403
    assert Post.objects.filter(pk=post.pk).exists()


def test_context(alice, bob):
    """Ensures that context returns ancestors oldest first and replies depth first."""
    root = post_create(author=bob.user, text="root")
    child = post_create(author=alice.user, text="child", reply_to=root)
    grandchild = post_create(author=bob.user, text="grandchild", reply_to=child)
    sibling = post_create(author=bob.user, text="sibling", reply_to=root)
    response = alice.client.get(f"{STATUSES}/{child.pk}/context")
    assert response.status_code == 200
    assert_schema(response, "statuses_context")
    assert [s["id"] for s in response.json()["ancestors"]] == [str(root.pk)]
    assert [s["id"] for s in response.json()["descendants"]] == [str(grandchild.pk)]
    whole = alice.client.get(f"{STATUSES}/{root.pk}/context").json()
    assert [s["id"] for s in whole["descendants"]] == [
        str(child.pk),
        str(grandchild.pk),
        str(sibling.pk),
    ]
    assert alice.client.get(f"{STATUSES}/999999/context").status_code == 404


def test_favourite_and_unfavourite(alice, bob, reader, anon):
    """Ensures that favourite/unfavourite act for the caller, are idempotent and answer with the
    Status; without a token or write scope nothing changes."""
    post = post_create(author=bob.user, text="like me")
    for _ in range(2):
        response = alice.client.post(f"{STATUSES}/{post.pk}/favourite")
        assert response.status_code == 200
        assert_schema(response, "statuses_favourite")
    assert response.json()["favourited"] is True
    assert response.json()["favourites_count"] == 1
    assert anon.post(f"{STATUSES}/{post.pk}/favourite").status_code == 401
    assert reader.client.post(f"{STATUSES}/{post.pk}/favourite").status_code == 403
    assert alice.client.post(f"{STATUSES}/999999/favourite").status_code == 404
    response = alice.client.post(f"{STATUSES}/{post.pk}/unfavourite")
    assert response.status_code == 200
    assert response.json()["favourited"] is False
    assert not Like.objects.exists()


def test_reblog_and_unreblog(alice, bob):
    """Ensures that reblog answers with the reblog wrapping the original, unreblog with the
    original, both idempotent."""
    post = post_create(author=bob.user, text="boost me")
    response = alice.client.post(f"{STATUSES}/{post.pk}/reblog")
    assert response.status_code == 200
    assert_schema(response, "statuses_reblog")
    data = response.json()
    assert data["account"]["id"] == str(alice.user.pk)
    assert data["reblog"]["id"] == str(post.pk) and data["reblog"]["reblogged"] is True
    assert alice.client.post(f"{STATUSES}/{post.pk}/reblog").json()["id"] == data["id"]
    response = alice.client.post(f"{STATUSES}/{post.pk}/unreblog")
    assert response.status_code == 200
    assert response.json()["id"] == str(post.pk) and response.json()["reblogged"] is False
    assert not Post.objects.filter(repost_of=post).exists()


def test_favourited_by_and_reblogged_by(alice, bob, anon):
    """Ensures that favourited_by/reblogged_by list accounts, paged by the Like/reblog id."""
    post = post_create(author=bob.user, text="popular")
    like_alice = like_create(user=alice.user, post=post) and Like.objects.get(user=alice.user)
    like_create(user=bob.user, post=post)
    response = anon.get(f"{STATUSES}/{post.pk}/favourited_by", {"limit": 1})
    assert response.status_code == 200
    assert_schema(response, "statuses_favourited_by")
    assert [a["id"] for a in response.json()] == [str(bob.user.pk)]
    nxt = anon.get(f"{STATUSES}/{post.pk}/favourited_by", {"limit": 1, "max_id": like_alice.pk + 1})
    assert [a["id"] for a in nxt.json()] == [str(alice.user.pk)]
    repost = repost_create(user=alice.user, post=post)
    response = anon.get(f"{STATUSES}/{post.pk}/reblogged_by")
    assert_schema(response, "statuses_reblogged_by")
    assert [a["id"] for a in response.json()] == [str(alice.user.pk)]
    assert f"min_id={repost.pk}>" in response["Link"]
    assert anon.get(f"{STATUSES}/999999/reblogged_by").status_code == 404
    assert anon.get(f"{STATUSES}/{post.pk}/favourited_by?max_id=x").status_code == 400


def test_idempotency_key_in_flight_is_409(alice):
    """Ensures that a retry arriving while the first request with its key is still being
    processed gets 409 instead of posting twice."""
    from django.core.cache import cache

    from api.views.statuses import IDEMPOTENCY_PENDING, _idempotency_cache_key

    cache.set(_idempotency_cache_key(alice.user.pk, "busy"), IDEMPOTENCY_PENDING, 60)
    response = alice.client.post(STATUSES, {"status": "twice?"}, HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert_schema(response, "statuses_create")
    assert not Post.objects.exists()


def test_no_response_leaks_email_or_token(alice, bob):
    """Ensures that no API response carries an account's email address or token secret."""
    post = post_create(author=bob.user, text="hi")
    like_create(user=alice.user, post=post)
    follow_create(follower=alice.user, followee=bob.user)
    paths = [
        "/api/v1/accounts/verify_credentials",
        f"/api/v1/accounts/{bob.user.pk}",
        f"/api/v1/accounts/{bob.user.pk}/followers",
        f"/api/v1/accounts/{alice.user.pk}/following",
        f"{STATUSES}/{post.pk}",
        f"{STATUSES}/{post.pk}/favourited_by",
        "/api/v1/timelines/home",
        "/api/v1/apps/verify_credentials",
    ]
    for path in paths:
        response = alice.client.get(path)
        # A body that says nothing (an error page) would leak nothing: it must be the real one.
        assert response.status_code == 200, (path, response.status_code)
        body = response.content.decode()
        for secret in (alice.user.email, bob.user.email, alice.raw, bob.raw, "token_hash"):
            assert secret not in body, (path, secret)

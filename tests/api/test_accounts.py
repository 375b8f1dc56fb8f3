"""Accounts: the caller, profiles, lookups, followers/following, follows and relationships."""

import pytest

from feeds.models import Follow
from feeds.services import follow_create
from tests.api.conftest import assert_schema
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MALFORMED_IDS = ["abc", "-1", "0", str(2**63), "\u0661\u0662", "1.5", "%20"]


def test_verify_credentials(alice):
    """Ensures that verify_credentials returns the caller's Account with source, and no email."""
    alice.user.bio = "Hello <b>there</b>\n\nhttps://example.com"
    alice.user.is_verified = True
    alice.user.save()
    response = alice.client.get("/api/v1/accounts/verify_credentials")
    assert response.status_code == 200
    assert_schema(response, "accounts_verify_credentials")
    data = response.json()
    assert data["id"] == str(alice.user.pk)
    assert data["acct"] == data["username"] == "alice"
    assert data["verified"] is True
    assert data["note"].startswith("<p>Hello &lt;b&gt;there&lt;/b&gt;</p><p><a href=")
    assert data["source"]["note"] == alice.user.bio
    assert "email" not in response.content.decode()
    assert alice.user.email not in response.content.decode()


def test_verify_credentials_needs_a_token(anon):
    """Ensures that verify_credentials without a token is 401."""
    assert anon.get("/api/v1/accounts/verify_credentials").status_code == 401


def test_account_get_and_not_found(alice, bob):
    """Ensures that an account is returned by id, and unknown or malformed ids are 404."""
    response = alice.client.get(f"/api/v1/accounts/{bob.user.pk}")
    assert response.status_code == 200
    assert_schema(response, "accounts_get")
    assert response.json()["username"] == "bob"
    assert response.json()["verified"] is False
    assert bob.user.email not in response.content.decode()
    for bad in [*MALFORMED_IDS, "999999"]:
        response = alice.client.get(f"/api/v1/accounts/{bad}")
        assert response.status_code == 404, bad
        assert response.json() == {"error": "Record not found"}


def test_account_anonymous_read(anon, bob):
    """Ensures that profiles are public, as on Mastodon."""
    assert anon.get(f"/api/v1/accounts/{bob.user.pk}").status_code == 200


def test_lookup(alice, bob):
    """Ensures that lookup finds an account by username (any case, with or without our domain)."""
    for acct in ("bob", "BOB", "@bob", "bob@testserver"):
        response = alice.client.get("/api/v1/accounts/lookup", {"acct": acct})
        assert response.status_code == 200, acct
        assert response.json()["id"] == str(bob.user.pk)
    assert_schema(response, "accounts_lookup")
    response = alice.client.get("/api/v1/accounts/lookup", {"acct": "bob@elsewhere.example"})
    assert response.status_code == 404
    assert alice.client.get("/api/v1/accounts/lookup", {"acct": "nobody"}).status_code == 404
    response = alice.client.get("/api/v1/accounts/lookup")
    assert response.status_code == 400
    assert "acct" in response.json()["error"]


def test_follow_and_unfollow(alice, bob):
    """Ensures that follow/unfollow act for the caller and return the Relationship."""
    response = alice.client.post(f"/api/v1/accounts/{bob.user.pk}/follow")
    assert response.status_code == 200
    assert_schema(response, "accounts_follow")
    assert response.json()["following"] is True
    assert response.json()["followed_by"] is False
    assert Follow.objects.filter(follower=alice.user, followee=bob.user).exists()
    # following twice changes nothing
    assert alice.client.post(f"/api/v1/accounts/{bob.user.pk}/follow").status_code == 200
    bob.user.refresh_from_db()
    assert bob.user.followers_count == 1
    response = alice.client.post(f"/api/v1/accounts/{bob.user.pk}/unfollow")
    assert response.status_code == 200
    assert_schema(response, "accounts_unfollow")
    assert response.json()["following"] is False
    assert not Follow.objects.exists()


def test_follow_cannot_act_as_someone_else(alice, bob):
    """Ensures that the follower is always the caller: body fields naming another follower are
    ignored."""
    carol = UserFactory()
    response = alice.client.post(
        f"/api/v1/accounts/{bob.user.pk}/follow",
        {"follower": carol.pk, "follower_id": carol.pk, "account_id": carol.pk},
        format="json",
    )
    assert response.status_code == 200
    assert list(Follow.objects.values_list("follower_id", "followee_id")) == [
        (alice.user.pk, bob.user.pk)
    ]


def test_follow_errors(alice, reader, bob, anon):
    """Ensures that following yourself is 422, unknown accounts 404, no token 401, a read-only
    token 403."""
    response = alice.client.post(f"/api/v1/accounts/{alice.user.pk}/follow")
    assert response.status_code == 422
    assert "yourself" in response.json()["error"]
    assert alice.client.post("/api/v1/accounts/999999/follow").status_code == 404
    assert alice.client.post("/api/v1/accounts/abc/follow").status_code == 404
    assert anon.post(f"/api/v1/accounts/{bob.user.pk}/follow").status_code == 401
    assert reader.client.post(f"/api/v1/accounts/{bob.user.pk}/follow").status_code == 403
    assert not Follow.objects.exists()


def test_relationships(alice, bob):
    """Ensures that relationships answers for each existing id, in order, both directions."""
    carol = UserFactory()
    follow_create(follower=alice.user, followee=bob.user)
    follow_create(follower=carol, followee=alice.user)
    response = alice.client.get(
        "/api/v1/accounts/relationships", {"id[]": [bob.user.pk, carol.pk, 999999]}
    )
    assert response.status_code == 200
    assert_schema(response, "accounts_relationships")
    data = response.json()
    assert [r["id"] for r in data] == [str(bob.user.pk), str(carol.pk)]
    assert data[0]["following"] is True and data[0]["followed_by"] is False
    assert data[1]["following"] is False and data[1]["followed_by"] is True
    single = alice.client.get("/api/v1/accounts/relationships", {"id": bob.user.pk}).json()
    assert single[0]["following"] is True


def test_relationships_bad_input(alice, anon):
    """Ensures that malformed or too many ids are 400 and no token is 401."""
    response = alice.client.get("/api/v1/accounts/relationships", {"id[]": ["abc"]})
    assert response.status_code == 400
    response = alice.client.get("/api/v1/accounts/relationships", {"id[]": list(range(1, 50))})
    assert response.status_code == 400
    assert anon.get("/api/v1/accounts/relationships", {"id[]": [1]}).status_code == 401


def test_followers_and_following_pages_by_follow_id(alice, anon):
    """Ensures that followers/following page newest first with Link ids taken from the Follow
    rows, as Mastodon does."""
    fans = [UserFactory() for _ in range(5)]
    follows = [follow_create(follower=fan, followee=alice.user) for fan in fans]
    response = anon.get(f"/api/v1/accounts/{alice.user.pk}/followers", {"limit": 2})
    assert response.status_code == 200
    assert_schema(response, "accounts_followers")
    assert [a["id"] for a in response.json()] == [str(fans[4].pk), str(fans[3].pk)]
    link = response["Link"]
    assert f'max_id={follows[3].pk}>; rel="next"' in link
    assert f'min_id={follows[4].pk}>; rel="prev"' in link
    nxt = anon.get(
        f"/api/v1/accounts/{alice.user.pk}/followers", {"limit": 2, "max_id": follows[3].pk}
    )
    assert [a["id"] for a in nxt.json()] == [str(fans[2].pk), str(fans[1].pk)]

    following = anon.get(f"/api/v1/accounts/{fans[0].pk}/following")
    assert following.status_code == 200
    assert_schema(following, "accounts_following")
    assert [a["id"] for a in following.json()] == [str(alice.user.pk)]
    assert 'rel="next"' not in following["Link"]  # the page was not full
    assert anon.get("/api/v1/accounts/999999/followers").status_code == 404
    assert anon.get(f"/api/v1/accounts/{alice.user.pk}/following?limit=0").status_code == 400


def test_account_lists_clamp_limit_to_80(alice, anon):
    """Ensures that account lists default to 40 and clamp at 80, Mastodon's account limits."""
    for _ in range(3):
        follow_create(follower=UserFactory(), followee=alice.user)
    response = anon.get(f"/api/v1/accounts/{alice.user.pk}/followers", {"limit": 5000})
    assert response.status_code == 200
    assert len(response.json()) == 3

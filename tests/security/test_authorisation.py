"""Authorisation matrix from the OpenAPI schema: every operation with an object id, called by
every kind of caller, answers as expected and leaks nothing private. Plus mass assignment."""

import json

import pytest
from django.test import Client

from accounts.models import ApiToken, User
from feeds.models import MediaAttachment, Notification, Post

from .conftest import bearer

CALLERS = ["anonymous", "owner", "other", "staff", "reviewer"]


def _operations():
    from tests.api.conftest import openapi_schema

    for path, methods in openapi_schema()["paths"].items():
        if "{" not in path:
            continue
        for method, op in methods.items():
            if method in ("get", "post", "delete", "patch", "put"):
                yield path, method, op["operationId"]


def _client(world, caller):
    return Client() if caller == "anonymous" else Client(**bearer(world.tokens[caller]))


def _expected(method, operation_id, caller):
    """Mastodon's rules: reads are public (budget allowing); writes need a token; only the
    author deletes a post (staff included: admins act through the admin, not the API); to
    anyone else it is not found."""
    if operation_id.startswith(("notification", "media_")):
        # One's own notifications and unposted uploads only: somebody else's id names no
        # record of theirs.
        return {401} if caller == "anonymous" else {200} if caller == "owner" else {404}
    if method == "get":
        return {200}
    if caller == "anonymous":
        return {401}
    if operation_id == "statuses_delete":
        return {200} if caller == "owner" else {404}  # Mastodon: another's post is 404
    if operation_id == "accounts_follow" and caller == "owner":
        return {422}  # the object is the owner's own account: no self-follow
    return {200}


def _upload_of(owner) -> MediaAttachment:
    """An unposted upload (the row alone: these calls never need its files)."""
    return MediaAttachment.objects.create(
        owner=owner,
        file="post-media/matrix.jpg",
        width=8,
        height=6,
        thumbnail="post-media/matrix.small.jpg",
        thumbnail_width=4,
        thumbnail_height=3,
    )


def _secrets(world) -> list[str]:
    values = [u.email for u in User.objects.all()]
    values += list(ApiToken.objects.values_list("token_hash", flat=True))
    values += list(world.tokens.values())
    values += ["203.0.113.", "ip:", "user:"]
    return [v for v in values if v]


@pytest.mark.parametrize("caller", CALLERS)
def test_authorisation_matrix(world, caller):
    """Ensures that each id-taking operation answers each caller as expected, with no other
    user's email, token (raw or hash), IP or ledger principal in any body."""
    operations = list(_operations())
    assert len(operations) >= 12
    secrets = _secrets(world)
    own_email = getattr(world, caller).email if caller != "anonymous" else None
    for path, method, operation_id in operations:
        # Fresh objects per call: a DELETE must not remove what the next call needs.
        post = Post.objects.create(author=world.owner, text=f"for {operation_id} #matrix")
        note = Notification.objects.create(
            recipient=world.owner, actor=world.other, kind=Notification.LIKE, post=post
        )
        url = path.replace("{status_id}", str(post.pk)).replace("{account_id}", str(world.owner.pk))
        url = url.replace("{notification_id}", str(note.pk)).replace("{hashtag}", "matrix")
        url = url.replace("{media_id}", str(_upload_of(world.owner).pk))
        response = getattr(_client(world, caller), method)(url, REMOTE_ADDR="203.0.113.50")
        assert response.status_code in _expected(method, operation_id, caller), (
            caller,
            method,
            url,
            response.status_code,
            response.content[:200],
        )
        body = response.content.decode()
        leaked = [s for s in secrets if s in body and s != own_email]
        assert not leaked, (caller, method, url, leaked)


FORBIDDEN_FIELDS = {
    "tier": "verified",
    "verified": True,
    "is_staff": True,
    "is_superuser": True,
    "author": 2,
    "account": {"id": "2"},
    "id": "999999",
    "created_at": "2000-01-01T00:00:00Z",
    "favourites_count": 1000,
    "reblogs_count": 1000,
}


def test_mass_assignment_changes_nothing(world):
    """Ensures that privileged fields sent in any writable body are ignored: the post is the
    caller's, new, with zero counts, and the caller's account is unchanged."""
    client = Client(**bearer(world.tokens["other"]))
    body = {"status": "hello", **FORBIDDEN_FIELDS}
    response = client.post("/api/v1/statuses", json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    post = Post.objects.get(pk=response.json()["id"])
    assert post.author == world.other and post.pk != 999999
    assert post.created_at.year >= 2026
    assert post.likes_count == 0 and post.reposts_count == 0
    world.other.refresh_from_db()
    assert not world.other.is_staff and not world.other.is_superuser
    assert world.other.tier_override is None
    for path in (
        f"/api/v1/statuses/{world.owner_posts[2].pk}/favourite",
        f"/api/v1/accounts/{world.staff.pk}/follow",
    ):
        response = client.post(path, json.dumps(FORBIDDEN_FIELDS), content_type="application/json")
        assert response.status_code == 200
    world.other.refresh_from_db()
    assert not world.other.is_staff and world.other.tier_override is None
    # The web settings form ignores them too.
    web = Client()
    web.force_login(world.other)
    web.post("/accounts/settings/", {"display_name": "Other", "bio": "", **FORBIDDEN_FIELDS})
    world.other.refresh_from_db()
    assert not world.other.is_staff and world.other.tier_override is None

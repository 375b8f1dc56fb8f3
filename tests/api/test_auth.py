"""Authentication and scopes: bearer tokens, sessions with CSRF, read/write scopes."""

import pytest
from rest_framework.test import APIClient

from accounts.scopes import scopes_normalize
from accounts.services import token_revoke
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

HOME = "/api/v1/timelines/home"


def test_missing_token_is_401(anon):
    """Ensures that an endpoint needing an account answers 401 with Mastodon's error."""
    response = anon.get(HOME)
    assert response.status_code == 401
    assert response.json() == {"error": "This method requires an authenticated user"}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_is_401(anon):
    """Ensures that an unknown token is refused with "The access token is invalid", even on
    endpoints that anonymous readers may use."""
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    for path in (HOME, "/api/v1/timelines/public"):
        response = anon.get(path)
        assert response.status_code == 401
        assert response.json() == {"error": "The access token is invalid"}


def test_revoked_token_is_401_on_next_request(alice):
    """Ensures that a revoked token stops working on the very next request."""
    assert alice.client.get(HOME).status_code == 200
    token_revoke(token=alice.token)
    response = alice.client.get(HOME)
    assert response.status_code == 401
    assert response.json() == {"error": "The access token is invalid"}


def test_inactive_user_token_is_401(alice):
    """Ensures that a suspended (inactive) account's tokens stop working."""
    alice.user.is_active = False
    alice.user.save(update_fields=["is_active"])
    assert alice.client.get(HOME).status_code == 401


def test_malformed_authorization_headers_are_401_never_500(anon):
    """Ensures that garbage in the Authorization header is a 401, not a 500."""
    for header in ("Bearer ", "Bearer " + "x" * 5000, "Bearer \u00e9\u00e9"):
        anon.credentials(HTTP_AUTHORIZATION=header)
        assert anon.get(HOME).status_code == 401


def test_read_only_token_cannot_write(reader):
    """Ensures that a read-only token gets 403 with Mastodon's scope error on POST and DELETE."""
    response = reader.client.post("/api/v1/statuses", {"status": "hi"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"error": "This action is outside the authorized scopes"}
    assert reader.client.delete("/api/v1/statuses/1").status_code == 403
    assert reader.client.get(HOME).status_code == 200


def test_write_only_token_cannot_read(db):
    """Ensures that a write-only token cannot read timelines."""
    from tests.api.conftest import make_caller

    writer = make_caller(scopes=("write",))
    assert writer.client.get(HOME).status_code == 403
    assert writer.client.post("/api/v1/statuses", {"status": "hi"}).status_code == 200


def test_token_use_is_recorded(alice):
    """Ensures that using a token records when and from which IP it was last used."""
    alice.client.get(HOME, REMOTE_ADDR="203.0.113.9")
    alice.token.refresh_from_db()
    assert alice.token.last_used_at is not None
    assert alice.token.last_used_ip == "203.0.113.9"


def test_session_auth_enforces_csrf(db):
    """Ensures that a logged-in session may read, but writes need the CSRF token."""
    user = UserFactory()
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=DEFAULT_PASSWORD)
    assert client.get(HOME).status_code == 200
    response = client.post("/api/v1/statuses", {"status": "from the browser"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    client.get("/accounts/settings/developer/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        "/api/v1/statuses", {"status": "from the browser"}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 200


def test_mastodon_scopes_map_to_their_prefix():
    """Ensures that Mastodon's granular scopes map onto read/write and unknown ones drop out."""
    assert scopes_normalize("read:statuses write:favourites") == ["read", "write"]
    assert scopes_normalize(["read:accounts"]) == ["read"]
    assert scopes_normalize("follow push") == ["read", "write"]
    assert scopes_normalize("push admin:read") == []
    assert scopes_normalize("read,write") == ["read", "write"]

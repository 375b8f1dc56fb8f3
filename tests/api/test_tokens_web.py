"""The settings "Developer" tab and ``manage.py issue_token``: creating, showing once, listing
and revoking personal access tokens."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import token_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/accounts/settings/developer/"


@pytest.fixture
def logged_in(client):
    user = UserFactory()
    client.force_login(user)
    client.user = user
    return client


def _raw_from(html: str) -> str:
    match = re.search(r'<code class="token-secret">([^<]+)</code>', html)
    assert match, "the new token is not on the page"
    return match.group(1)


def test_create_shows_the_token_once_and_it_works(logged_in):
    """Ensures that creating a token shows its secret once, stores only a hash, and the token
    authenticates API calls with its scopes."""
    response = logged_in.post(URL, {"name": "phone", "scopes": ["read"]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    raw = _raw_from(response.content.decode())
    token = ApiToken.objects.get(user=logged_in.user)
    assert token.token_hash == ApiToken.hash_secret(raw) and raw not in token.token_hash
    assert token.scope_list == ["read"]
    listing = logged_in.get(URL).content.decode()
    assert "phone" in listing and raw not in listing and token.token_prefix in listing
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/accounts/verify_credentials").status_code == 200
    assert api.post("/api/v1/statuses", {"status": "x"}).status_code == 403


def test_create_refuses_bad_input(logged_in):
    """Ensures that a token needs a name and a valid scope."""
    assert logged_in.post(URL, {"name": "", "scopes": ["read"]}).status_code == 400
    assert logged_in.post(URL, {"name": "x"}).status_code == 400
    assert logged_in.post(URL, {"name": "x", "scopes": ["admin"]}).status_code == 400
    assert not ApiToken.objects.exists()


def test_list_shows_last_use(logged_in):
    """Ensures that the list shows when and from which IP a token was last used."""
    token, raw = token_create(user=logged_in.user, name="script", scopes=["read"])
    APIClient().get(
        "/api/v1/timelines/home", HTTP_AUTHORIZATION=f"Bearer {raw}", REMOTE_ADDR="198.51.100.7"
    )
    html = logged_in.get(URL).content.decode()
    assert "198.51.100.7" in html and "never" not in html


def test_revoke_own_token(logged_in):
    """Ensures that revoking is a POST and the token stops working at once."""
    token, raw = token_create(user=logged_in.user, name="old", scopes=["read"])
    assert logged_in.get(f"{URL}{token.pk}/revoke/").status_code == 405
    response = logged_in.post(f"{URL}{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/timelines/home").status_code == 401


def test_nobody_sees_or_revokes_anothers_tokens(logged_in):
    """Ensures that another user's tokens are neither listed nor revocable."""
    other = UserFactory()
    token, _ = token_create(user=other, name="not-yours-xyz", scopes=["read"])
    assert "not-yours-xyz" not in logged_in.get(URL).content.decode()
    assert logged_in.post(f"{URL}{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_developer_tab_needs_login(client):
    """Ensures that the developer tab redirects logged-out visitors to log in."""
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_issue_token_command():
    """Ensures that issue_token prints a working token with the requested scopes."""
    user = UserFactory(username="scripted")
    out = StringIO()
    call_command(
        "issue_token",
        "scripted",
        "--scopes",
        "read,write:statuses",
        "--name",
        "cli",
        stdout=out,
        stderr=StringIO(),
    )
    raw = out.getvalue().strip()
    token = ApiToken.objects.get(user=user)
    assert token.name == "cli" and token.scope_list == ["read", "write"]
    assert token.token_hash == ApiToken.hash_secret(raw)
    with pytest.raises(CommandError):
        call_command("issue_token", "nobody", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError):
        call_command(
            "issue_token", "scripted", "--scopes", "push", stdout=StringIO(), stderr=StringIO()
        )

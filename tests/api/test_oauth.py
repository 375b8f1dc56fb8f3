"""OAuth 2 as Mastodon clients use it, over raw HTTP: registration, consent, code exchange,
client credentials, revocation, metadata, and the RFC 9700 rules each step must keep."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, OAuthApplication, OAuthAuthorizationCode
from accounts.oauth.models import secret_hash
from tests.factories import PostFactory, UserFactory

from .oauth_helpers import (
    OOB,
    approve,
    authorize_url,
    bearer,
    code_from,
    exchange,
    pkce_pair,
    register,
)

pytestmark = pytest.mark.django_db
CALLBACK = "https://app.example/callback"


@pytest.fixture
def person():
    return UserFactory(username="carol")


@pytest.fixture
def browser(person) -> Client:
    client = Client()
    client.force_login(person)
    return client


def _login(browser, app, redirect_uri=OOB, **params) -> str:
    """Consent and exchange: the raw access token."""
    code = code_from(approve(browser, authorize_url(app, redirect_uri, **params)))
    response = exchange(app, code, redirect_uri)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


# --- Registration ---------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [True, False])
def test_apps_register_with_form_or_json(as_json):
    """Ensures that POST /api/v1/apps takes a form or JSON, gives each app its own id and
    client_id, echoes the requested scopes and keeps several redirect URIs."""
    uris = f"{OOB}\nicecubesapp://\noauth2redirect://com.keylesspalace.tusky/ {CALLBACK}"
    first = register(uris, scopes="read write:favourites profile", as_json=as_json)
    second = register(OOB, as_json=as_json)
    assert first["id"] != second["id"] and first["client_id"] != second["client_id"]
    assert first["scopes"] == ["read", "write:favourites", "profile"]
    assert first["redirect_uris"] == [
        OOB,
        "icecubesapp://",
        "oauth2redirect://com.keylesspalace.tusky/",
        CALLBACK,
    ]
    assert first["client_secret"] and first["vapid_key"] == ""


def test_apps_register_takes_a_json_list_of_redirect_uris():
    """Ensures that redirect_uris may be a JSON list, as masto.js sends it."""
    body = {"client_name": "Elk", "redirect_uris": [OOB, "elk://callback"], "scopes": "read"}
    response = Client().post("/api/v1/apps", json.dumps(body), content_type="application/json")
    assert response.json()["redirect_uris"] == [OOB, "elk://callback"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("redirect_uris", "javascript:alert(1)"),
        ("redirect_uris", "https://app.example/cb#fragment"),
        ("redirect_uris", "not a uri"),
        ("redirect_uris", "https://"),
        ("scopes", "read admin:everything"),
    ],
)
def test_apps_register_refuses_bad_uris_and_unknown_scopes(field, value):
    """Ensures that a redirect URI that could run script, carries a fragment or is not a URI,
    and an unknown scope, are a 422 that names the field."""
    body = {"client_name": "x", "redirect_uris": OOB, "scopes": "read", field: value}
    response = Client().post("/api/v1/apps", body)
    assert response.status_code == 422
    assert response.json()["error"].startswith(field)


def test_client_secret_and_tokens_are_stored_hashed(browser):
    """Ensures that neither the client secret, nor a code, nor an access token is stored as
    sent: only their SHA-256 hashes."""
    app = register()
    row = OAuthApplication.objects.get(client_id=app["client_id"])
    assert row.client_secret_hash == secret_hash(app["client_secret"])
    code = code_from(approve(browser, authorize_url(app)))
    assert OAuthAuthorizationCode.objects.get().code_hash == secret_hash(code)
    raw = exchange(app, code).json()["access_token"]
    token = ApiToken.objects.get(application=row)
    assert token.token_hash == ApiToken.hash_secret(raw) and raw not in token.token_hash


# --- The consent page -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/oauth/authorize", "/oauth/authorize/"])
def test_authorize_sends_a_logged_out_person_to_log_in_and_back(path):
    """Ensures that /oauth/authorize (with or without the slash) sends a logged-out person to
    the login page, which brings them back to the same request."""
    app = register()
    url = authorize_url(app).replace("/oauth/authorize", path)
    response = Client().get(url)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/accounts/login/"
    assert parse_qs(location.query)["next"] == [url]


def test_consent_page_names_the_app_and_the_scopes_in_words(browser):
    """Ensures that the consent page names the app and says what each scope allows, is never
    framed or cached, and lets popup logins see it close."""
    app = register(scopes="read write:favourites", name="Ice Cubes")
    response = browser.get(authorize_url(app, scope="read write:favourites", force_login="true"))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Authorize Ice Cubes?" in text and "@carol" in text
    assert "Read everything your account can see" in text
    assert "Change your favourites" in text
    assert 'name="csrfmiddlewaretoken"' in text
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"
    assert "no-store" in response["Cache-Control"]


def test_login_page_allows_popups():
    """Ensures that the login page does not send ``Cross-Origin-Opener-Policy: same-origin``
    (web clients poll ``popup.closed``)."""
    response = Client().get("/accounts/login/?next=/oauth/authorize")
    assert response["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"


def test_consent_form_is_csrf_protected(person):
    """Ensures that approving without the consent page's CSRF token is refused (403) and no
    code is issued: another site cannot approve on a person's behalf."""
    app = register()
    client = Client(enforce_csrf_checks=True)
    client.force_login(person)
    assert client.get(authorize_url(app)).status_code == 200
    response = client.post(authorize_url(app), {"decision": "approve"})
    assert response.status_code == 403
    assert not OAuthAuthorizationCode.objects.exists()


def test_oob_shows_the_code_on_a_page(browser):
    """Ensures that for ``urn:ietf:wg:oauth:2.0:oob`` the code is shown on a page."""
    app = register()
    response = approve(browser, authorize_url(app))
    assert response.status_code == 200
    assert len(code_from(response)) > 30


@pytest.mark.parametrize("state", ["xyz-123", "None"])
def test_redirect_carries_code_and_state_and_ignores_unknown_parameters(browser, state):
    """Ensures that approving redirects to the registered URI (custom schemes too) with
    ``code`` and ``state`` (a literal "None" echoed as given), ignoring unknown parameters."""
    uri = "icecubesapp://"
    app = register(f"{uri} {CALLBACK}")
    response = approve(browser, authorize_url(app, uri, state=state, lang="fr", force_login="1"))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.scheme == "icecubesapp"
    query = parse_qs(location.query)
    assert query["state"] == [state] and query["code"]


def test_deny_redirects_with_access_denied(browser):
    """Ensures that denying sends the app ``error=access_denied`` and no code."""
    app = register(CALLBACK)
    response = approve(browser, authorize_url(app, CALLBACK, state="s"), decision="deny")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["s"]
    assert "code" not in query


@pytest.mark.parametrize(
    "redirect_uri", [CALLBACK + "/", CALLBACK + "?x=1", "https://evil.example/callback"]
)
def test_authorize_refuses_an_unregistered_redirect_uri_without_redirecting(browser, redirect_uri):
    """Ensures that a redirect URI that is not exactly a registered one is refused on a page
    (400), never redirected to."""
    app = register(CALLBACK)
    response = browser.get(authorize_url(app, redirect_uri))
    assert response.status_code == 400
    assert "redirect_uri must match exactly" in response.content.decode()


def test_authorize_refuses_unknown_client_and_scopes_beyond_the_app(browser):
    """Ensures that an unknown client_id is a 400 page, and scopes beyond the registered ones
    go back to the app as ``invalid_scope``."""
    assert browser.get("/oauth/authorize?client_id=nope&response_type=code").status_code == 400
    app = register(CALLBACK, scopes="read")
    response = browser.get(authorize_url(app, CALLBACK, scope="read write"))
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_scope"]


# --- The token endpoint ---------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [True, False])
def test_code_exchange_answers_like_mastodon(browser, as_json):
    """Ensures that /oauth/token takes a form or JSON and answers access_token, token_type,
    scope and created_at, with no expiry; the token works for the person."""
    app = register()
    code = code_from(approve(browser, authorize_url(app, scope="read write")))
    response = exchange(app, code, as_json=as_json)
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "token_type", "scope", "created_at"}
    assert body["token_type"] == "Bearer" and body["scope"] == "read write"
    assert abs(body["created_at"] - timezone.now().timestamp()) < 60
    assert response["Cache-Control"] == "no-store"
    me = bearer(body["access_token"]).get("/api/v1/accounts/verify_credentials")
    assert me.json()["username"] == "carol"
    verified = bearer(body["access_token"]).get("/api/v1/apps/verify_credentials")
    assert verified.json()["name"] == "Toot" and verified.json()["scopes"] == ["read", "write"]


def test_tokens_do_not_expire(browser):
    """Ensures that an app's token still works a year later."""
    raw = _login(browser, register())
    with time_machine.travel(timezone.now() + timedelta(days=366)):
        assert bearer(raw).get("/api/v1/accounts/verify_credentials").status_code == 200


def test_client_secret_may_come_by_http_basic(browser):
    """Ensures that the client may authenticate with HTTP Basic (RFC 6749 §2.3.1)."""
    import base64

    app = register()
    code = code_from(approve(browser, authorize_url(app)))
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    response = Client(headers={"Authorization": f"Basic {basic}"}).post(
        "/oauth/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": OOB}
    )
    assert response.status_code == 200


def test_replayed_code_is_refused_and_revokes_its_token(browser):
    """Ensures that a code works once; presenting it again is ``invalid_grant`` and revokes
    the token it was exchanged for (RFC 9700 §4.2.1)."""
    app = register()
    code = code_from(approve(browser, authorize_url(app)))
    raw = exchange(app, code).json()["access_token"]
    assert bearer(raw).get("/api/v1/accounts/verify_credentials").status_code == 200
    replay = exchange(app, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert bearer(raw).get("/api/v1/accounts/verify_credentials").status_code == 401


def test_code_expires(browser, settings):
    """Ensures that a code is refused once its short lifetime has passed."""
    app = register()
    code = code_from(approve(browser, authorize_url(app)))
    later = timezone.now() + timedelta(seconds=settings.OAUTH_CODE_LIFETIME_SECONDS + 1)
    with time_machine.travel(later):
        response = exchange(app, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_code_is_bound_to_its_client(browser):
    """Ensures that another app cannot exchange the code, and a wrong secret is a 401
    ``invalid_client``."""
    app, other = register(), register(name="Other")
    code = code_from(approve(browser, authorize_url(app)))
    stolen = exchange({**app, **{k: other[k] for k in ("client_id", "client_secret")}}, code)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    secret = app["client_secret"]
    wrong_secret = secret[:-1] + ("y" if secret.endswith("x") else "x")  # never the same
    wrong = exchange({**app, "client_secret": wrong_secret}, code)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in wrong


def test_code_is_bound_to_its_exact_redirect_uri(browser):
    """Ensures that the code must be exchanged with exactly the redirect URI it was sent to,
    and a failed try burns it."""
    app = register(f"{CALLBACK} {OOB}")
    code = code_from(approve(browser, authorize_url(app, CALLBACK)))
    response = exchange(app, code, redirect_uri=CALLBACK + "/")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert exchange(app, code, redirect_uri=CALLBACK).status_code == 400


def test_pkce_s256_is_verified_when_sent(browser):
    """Ensures that with a code_challenge the right code_verifier is required; S256 only."""
    verifier, challenge = pkce_pair()
    app = register()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    for bad_verifier in (None, "w" * 50):
        code = code_from(approve(browser, authorize_url(app, **pkce)))
        extra = {"code_verifier": bad_verifier} if bad_verifier else {}
        response = exchange(app, code, **extra)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    code = code_from(approve(browser, authorize_url(app, **pkce)))
    assert exchange(app, code, code_verifier=verifier).status_code == 200
    plain = browser.get(authorize_url(app, code_challenge=verifier, code_challenge_method="plain"))
    assert plain.status_code == 400 and "only S256" in plain.content.decode()


def test_verifier_without_a_challenge_is_refused(browser):
    """Ensures that a code_verifier for a code issued without a challenge is refused (the
    PKCE downgrade of RFC 9700 §2.1.1), while omitting PKCE altogether works."""
    app = register()
    code = code_from(approve(browser, authorize_url(app)))
    response = exchange(app, code, code_verifier="v" * 50)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_client_credentials_on_the_same_app(browser):
    """Ensures that one app can use both grant types; its own token verifies the app and
    reads public posts as a logged-out caller, but is nobody's account."""
    app = register()
    raw_person = _login(browser, app)
    body = {
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "scope": "read",
    }
    response = Client().post("/oauth/token", body)
    assert response.status_code == 200 and response.json()["scope"] == "read"
    raw_app = response.json()["access_token"]
    assert bearer(raw_app).get("/api/v1/apps/verify_credentials").json()["name"] == "Toot"
    PostFactory()
    assert len(bearer(raw_app).get("/api/v1/timelines/public").json()) == 1
    assert bearer(raw_app).get("/api/v1/accounts/verify_credentials").status_code in (401, 403)
    assert bearer(raw_person).get("/api/v1/accounts/verify_credentials").status_code == 200
    beyond = Client().post("/oauth/token", {**body, "scope": "admin:read"})
    assert beyond.status_code == 400 and beyond.json()["error"] == "invalid_scope"


def test_token_endpoint_refuses_unknown_grant_types_and_bad_bodies():
    """Ensures that other grant types, a JSON array and a missing code are clear 4xx."""
    app = register()
    creds = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    password = Client().post("/oauth/token", {"grant_type": "password", **creds})
    assert password.json()["error"] == "unsupported_grant_type"
    array = Client().post("/oauth/token", "[1]", content_type="application/json")
    assert array.status_code == 422
    missing = Client().post("/oauth/token", {"grant_type": "authorization_code", **creds})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


# --- Revocation and metadata ----------------------------------------------------------------


def test_revoke_answers_empty_and_stops_the_token(browser):
    """Ensures that POST /oauth/revoke answers ``200 {}`` and the token stops working; a token
    the app does not hold is answered the same and left alone."""
    app, other = register(), register(name="Other")
    raw = _login(browser, app)
    raw_other = _login(browser, other)
    creds = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    response = Client().post("/oauth/revoke", {"token": raw_other, **creds})
    assert response.status_code == 200 and response.json() == {}
    assert bearer(raw_other).get("/api/v1/accounts/verify_credentials").status_code == 200
    response = Client().post("/oauth/revoke", {"token": raw, **creds})
    assert response.status_code == 200 and response.json() == {}
    assert bearer(raw).get("/api/v1/accounts/verify_credentials").status_code == 401


def test_authorization_server_metadata():
    """Ensures that the RFC 8414 document lists the endpoints, app registration, the scopes,
    both grant types and S256."""
    body = Client().get("/.well-known/oauth-authorization-server").json()
    assert body["authorization_endpoint"].endswith("/oauth/authorize")
    assert body["token_endpoint"].endswith("/oauth/token")
    assert body["revocation_endpoint"].endswith("/oauth/revoke")
    assert body["app_registration_endpoint"].endswith("/api/v1/apps")
    assert {"read", "write", "follow", "push", "profile", "read:statuses"} <= set(
        body["scopes_supported"]
    )
    assert body["grant_types_supported"] == ["authorization_code", "client_credentials"]
    assert body["code_challenge_methods_supported"] == ["S256"]


# --- Scopes on every endpoint ---------------------------------------------------------------


def _scoped(browser, scope: str) -> Client:
    app = register(scopes="read write follow profile")
    return bearer(_login(browser, app, scope=scope))


def test_read_token_cannot_post(browser):
    """Ensures that a ``read`` token reads but cannot post a status."""
    client = _scoped(browser, "read")
    assert client.get("/api/v1/timelines/home").status_code == 200
    response = client.post("/api/v1/statuses", {"status": "hi"})
    assert response.status_code == 403
    assert response.json()["error"] == "This action is outside the authorized scopes"


def test_write_favourites_cannot_post_a_status(browser):
    """Ensures that ``write:favourites`` may favourite but not post a status, and a granular
    scope never covers its parent (it cannot read a timeline either)."""
    post = PostFactory()
    client = _scoped(browser, "write:favourites read:statuses")
    assert client.post(f"/api/v1/statuses/{post.pk}/favourite").status_code == 200
    assert client.post("/api/v1/statuses", {"status": "hi"}).status_code == 403
    assert client.post(f"/api/v1/statuses/{post.pk}/reblog").status_code == 403
    assert client.get("/api/v1/timelines/home").status_code == 200
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 403


def test_profile_scope_sees_only_verify_credentials(browser):
    """Ensures that ``profile`` lets an app see who the person is, and nothing else."""
    client = _scoped(browser, "profile")
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 200
    assert client.get("/api/v1/timelines/public").status_code == 403


def test_follow_scope_covers_follows_only(browser):
    """Ensures that the legacy ``follow`` scope follows and unfollows but cannot post."""
    other = UserFactory()
    client = _scoped(browser, "follow")
    assert client.post(f"/api/v1/accounts/{other.pk}/follow").status_code == 200
    assert client.post("/api/v1/statuses", {"status": "hi"}).status_code == 403


def test_every_api_view_names_the_scope_of_each_method():
    """Ensures that every API view that checks scopes names the granular scope each of its
    methods needs (derived from the URLconf, so a new endpoint cannot forget)."""
    from django.urls import get_resolver
    from rest_framework.permissions import AllowAny

    from api.permissions import TokenHasScope

    missing = []

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns)
                continue
            view = getattr(pattern.callback, "view_class", None)
            if view is None or not hasattr(view, "permission_classes"):
                continue
            permissions = view.permission_classes
            if AllowAny in permissions or not any(
                issubclass(p, TokenHasScope) for p in permissions
            ):
                continue
            for method in ("get", "post", "put", "patch", "delete"):
                declared = getattr(view, "required_scopes", {})
                if hasattr(view, method) and method.upper() not in declared:
                    missing.append(f"{view.__name__}.{method}")

    walk(get_resolver().url_patterns)
    assert not missing


def test_suspended_app_tokens_stop_working(browser):
    """Ensures that suspending an app stops its tokens on the next request and refuses it new
    ones; lifting the suspension brings the unrevoked tokens back."""
    from accounts.oauth.services import application_suspend, application_unsuspend

    app = register()
    raw = _login(browser, app)
    row = OAuthApplication.objects.get(client_id=app["client_id"])
    application_suspend(application=row, actor=None, reason="scraping")
    assert bearer(raw).get("/api/v1/accounts/verify_credentials").status_code == 401
    assert browser.get(authorize_url(app)).status_code == 400
    application_unsuspend(application=row, actor=None)
    assert bearer(raw).get("/api/v1/accounts/verify_credentials").status_code == 200


def test_services_refuse_a_suspended_app_and_scopes_beyond_it(browser):
    """Ensures that the services themselves, not only the pages, refuse a suspended app a
    code or token (invalid_client, a 401 at the token endpoint) and a code for scopes beyond
    the app's registered ones."""
    from oauthlib.oauth2.rfc6749 import errors as oauth_errors

    from accounts.oauth.services import (
        application_suspend,
        authorization_code_issue,
        token_issue_client_credentials,
    )

    app = register(scopes="read")
    row = OAuthApplication.objects.get(client_id=app["client_id"])
    person = UserFactory()
    with pytest.raises(oauth_errors.InvalidScopeError):
        authorization_code_issue(
            application=row, user=person, redirect_uri=OOB, scopes=["read", "write"]
        )
    code = authorization_code_issue(application=row, user=person, redirect_uri=OOB, scopes=["read"])
    application_suspend(application=row, actor=None, reason="scraping")
    row.refresh_from_db()
    with pytest.raises(oauth_errors.InvalidClientError):
        authorization_code_issue(application=row, user=person, redirect_uri=OOB, scopes=["read"])
    with pytest.raises(oauth_errors.InvalidClientError):
        token_issue_client_credentials(application=row, scopes=["read"])
    refused = exchange(app, code)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    body = {"grant_type": "client_credentials", "scope": "read"}
    body |= {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    response = Client().post("/oauth/token", body)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"

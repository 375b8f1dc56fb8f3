"""Bad input, on the web pages and the API: a clear 4xx, never a 500, nothing stored wrongly."""

import json

import pytest
from django.test import Client

from access.gate import reader_principal
from feeds.models import Post

from .conftest import bearer
from .routes import route_templates

BAD_NUMBERS = ["0", "-1", "1e9", "abc", str(2**63), "١٢", " 5", "5.0", "0x10", ""]
API_TIMELINES = ["/api/v1/timelines/public", "/api/v1/timelines/home"]


@pytest.fixture
def api(world):
    client = Client()
    client.defaults.update(bearer(world.tokens["owner"]))
    return client


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize("param", ["limit", "max_id", "since_id", "min_id"])
def test_api_bad_paging_parameters_are_400(api, param, value):
    """Ensures that malformed limits and cursors are a 400 with a sentence, never a 500."""
    if value == "" and param != "limit":
        pytest.skip("an empty cursor means 'not given'")
    if value == str(2**63) and param == "limit":
        pytest.skip("a huge limit is clamped, as Mastodon does (tested below)")
    for path in API_TIMELINES:
        response = api.get(path, {param: value})
        assert response.status_code == 400, (path, param, value, response.content)
        assert param in response.json()["error"]


def test_api_huge_limit_is_clamped_and_repeated_parameters_use_the_last(api, world):
    """Ensures that limit=1e9 in digits is clamped (Mastodon's rule) and that a repeated
    parameter is read once (the last value), never as a list that breaks parsing."""
    for huge in ("1000000000", str(2**63)):
        assert api.get("/api/v1/timelines/public", {"limit": huge}).status_code == 200
    response = api.get("/api/v1/timelines/public?limit=abc&limit=2")
    assert response.status_code == 200 and len(response.json()) == 2
    response = api.get("/api/v1/timelines/public?limit=2&limit=abc")
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["0", "-1", "1e9", "abc", str(2**63), "١٢", "007"])
def test_api_bad_path_ids_are_404(api, value):
    """Ensures that a path id that names no record is Mastodon's JSON 404, not a 500."""
    for path in (f"/api/v1/statuses/{value}", f"/api/v1/accounts/{value}"):
        response = api.get(path)
        assert response.status_code == 404, (path, response.content)
        assert response.json() == {"error": "Record not found"}


@pytest.mark.parametrize("value", ["0", "-1", "abc", str(2**63), "١٢", "9" * 40])
def test_web_bad_max_id_is_400_page(client, world, value):
    """Ensures that the web timeline's max_id is validated with a readable 400 page."""
    response = client.get("/public/", {"max_id": value})
    assert response.status_code == 400
    assert b"max_id" in response.content


@pytest.mark.parametrize("value", [str(2**63), "99999999999999999999"])
def test_web_huge_post_ids_are_404(client, world, value):
    """Ensures that post ids past 64 bits are a 404 page, not a database overflow."""
    assert client.get(f"/posts/{value}/").status_code == 404


@pytest.mark.parametrize(
    "cursor", ["%00", "'; DROP TABLE feeds_post; --", "1 OR 1=1", "eyJpZCI6MX0=", "1,2", "[1]"]
)
def test_garbage_cursors_are_400(api, client, world, cursor):
    """Ensures that tampered or garbage cursors are refused on the API and the web."""
    assert api.get(f"/api/v1/timelines/public?max_id={cursor}").status_code == 400
    assert client.get(f"/public/?max_id={cursor}").status_code == 400
    assert Post.objects.exists()


def _post(api, body, content_type="application/json"):
    return api.post("/api/v1/statuses", body, content_type=content_type)


def test_api_post_length_limit(api, world):
    """Ensures that 500 characters are accepted and 501 refused with 422 and a reason."""
    ok = _post(api, json.dumps({"status": "é" * 500}))
    assert ok.status_code == 200
    too_long = _post(api, json.dumps({"status": "x" * 501}))
    assert too_long.status_code == 422 and "at most 500" in too_long.json()["error"]
    assert not Post.objects.filter(text="x" * 501).exists()


@pytest.mark.parametrize("text", ["bad\x00nul", "lone \\ud800 surrogate"])
def test_api_nul_and_lone_surrogates_are_422(api, world, text):
    """Ensures that NUL bytes and lone surrogates (JSON "\\ud800") are refused, not stored."""
    before = Post.objects.count()
    body = '{"status": "' + text.replace("\x00", "\\u0000") + '"}'
    response = _post(api, body)
    assert response.status_code == 422, response.content
    assert Post.objects.count() == before


def test_web_nul_is_refused(client, world):
    """Ensures that the web composer refuses NUL with its 400 form, storing nothing."""
    client.force_login(world.owner)
    before = Post.objects.count()
    response = client.post("/posts/new/", {"text": "a\x00b"})
    assert response.status_code == 400 and b"control characters" in response.content
    assert Post.objects.count() == before


def test_rtl_override_is_stored_as_sent_and_escaped(api, client, world):
    """Ensures that an RTL override and markup are stored verbatim and escaped on output."""
    text = "safe \u202egnp.exe <script>alert(1)</script>"
    response = _post(api, json.dumps({"status": text}))
    assert response.status_code == 200
    post = Post.objects.get(pk=response.json()["id"])
    assert post.text == text
    assert "<script>" not in response.json()["content"]
    page = client.get(f"/posts/{post.pk}/")
    assert b"<script>alert(1)" not in page.content and "\u202e".encode() in page.content


def test_ten_megabyte_bodies_are_refused(api, client, world):
    """Ensures that a 10 MB body is a 4xx (413 or 400), never a 500, on the API and the web."""
    big = "x" * (10 * 1024 * 1024)
    api_response = _post(api, json.dumps({"status": big}))
    assert api_response.status_code in (400, 413), api_response.status_code
    client.force_login(world.owner)
    web_response = client.post("/posts/new/", {"text": big})
    assert web_response.status_code in (400, 413), web_response.status_code
    assert not Post.objects.filter(text__startswith="xxxx").exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"status": "hi"', "application/json"),
        ("status=hi", "text/plain"),
        ("<status>hi</status>", "application/xml"),
        ('"just a string"', "application/json"),
        ("[1, 2]", "application/json"),
        ("[" * 100_000 + "]" * 100_000, "application/json"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "application/json"),
    ],
)
def test_api_invalid_bodies_are_4xx(api, world, body, content_type):
    """Ensures that invalid JSON, wrong content types and deeply nested JSON are a 4xx with an
    error sentence, never a 500, and post nothing."""
    before = Post.objects.count()
    response = _post(api, body, content_type)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:200])
    assert response.json()["error"]
    assert Post.objects.count() == before


def test_forged_x_forwarded_for_does_not_pick_the_ip(rf, settings):
    """Ensures that X-Forwarded-For cannot choose the anonymous reader's budget unless
    TRUSTED_PROXY_COUNT says proxies write it (then only the proxy's entry counts)."""
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    request.user = AnonymousUser()
    settings.TRUSTED_PROXY_COUNT = 0
    assert reader_principal(request) == "ip:198.51.100.1/32"
    settings.TRUSTED_PROXY_COUNT = 1
    assert reader_principal(request) == "ip:203.0.113.9/32"
    forged = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9")
    forged.user = AnonymousUser()
    assert reader_principal(forged) == "ip:203.0.113.9/32"  # the client's 1.1.1.1 is ignored


def test_forged_x_forwarded_for_shares_the_budget_end_to_end(world):
    """Ensures that rotating X-Forwarded-For values buys no fresh anonymous budget."""
    from accounts.models import Tier

    Tier.objects.filter(slug="anonymous").update(daily_read_budget=2)
    client = Client()
    statuses = []
    for i in range(6):
        response = client.get(
            f"/posts/{world.owner_posts[i % 3].pk}/", HTTP_X_FORWARDED_FOR=f"9.9.9.{i}"
        )
        statuses.append(response.status_code)
    assert 429 in statuses and 500 not in statuses


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.1@evil"])
def test_host_header_poisoning_is_400(world, host):
    """Ensures that a Host outside ALLOWED_HOSTS is a 400 and no absolute URL is built from it."""
    client = Client()
    for path in ("/public/", "/api/v1/instance", "/api/v1/timelines/public", "/accounts/login/"):
        response = client.get(path, HTTP_HOST=host)
        assert response.status_code == 400, (path, response.status_code)
        assert b"evil" not in response.content
        assert "evil" not in response.get("Location", "") + response.get("Link", "")


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Bearer garbage", "Bearer " + "a" * 5000, "Bearer \u00e9"]
)
def test_bad_bearer_tokens_are_401(world, header):
    """Ensures that empty, garbage, oversized or non-ASCII tokens are a 401, never anonymous."""
    client = Client(HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    response = client.get("/api/v1/timelines/public")
    assert response.status_code == 401
    assert response.json()["error"] in (
        "The access token is invalid",
        "This method requires an authenticated user",
    )


def test_revoked_token_is_401(world):
    """Ensures that a revoked token stops working on its next request (though its look-up is
    cached: revocation goes through the service, which invalidates it)."""
    from accounts.services import tokens_revoke_all

    client = Client(**bearer(world.tokens["owner"]))
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 200
    tokens_revoke_all(user=world.owner)
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 401


def test_session_and_token_for_different_users_token_wins(world):
    """Ensures that with a session for one user and a token for another, the token decides
    (Bearer authentication runs first) and nothing of the session's user leaks."""
    client = Client(**bearer(world.tokens["other"]))
    client.force_login(world.owner)
    body = client.get("/api/v1/accounts/verify_credentials").json()
    assert body["username"] == "other"
    assert "owner-secret" not in json.dumps(body)
    # A bad token with a valid session is refused, not silently downgraded to the session.
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer nope"
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 401


@pytest.mark.parametrize("method", ["head", "options", "patch", "put", "delete", "trace"])
def test_every_route_answers_every_method_without_500(world, method):
    """Ensures that HEAD/OPTIONS/PATCH (and more) on every route of the URL conf never 500,
    anonymous or logged in."""
    values = {"post": str(world.owner_posts[0].pk), "user": str(world.owner.pk), "name": "owner"}
    routes = [template.format(**values) for template in route_templates()]
    assert len(routes) > 20
    anonymous, logged_in = Client(), Client()
    logged_in.force_login(world.other)
    failures = []
    for path in routes:
        for client in (anonymous, logged_in):
            response = getattr(client, method)(path)
            if response.status_code >= 500:
                failures.append((path, response.status_code))
    assert not failures


@pytest.mark.parametrize(
    ("field", "value"), [("sensitive", ""), ("visibility", ""), ("visibility", "direct")]
)
def test_api_multipart_options_are_validated(api, world, field, value):
    """Ensures that a multipart POST /api/v1/statuses with an empty or unsupported option is
    refused with 422 and posts nothing (the fuzzer sends JSON and urlencoded bodies only)."""
    boundary = "0a5da9e5295deee523ef9b276d96ad2e"
    parts = [(field, value), ("status", "hello from a form")]
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{text}\r\n'
        for name, text in parts
    )
    body += f"--{boundary}--\r\n"
    before = Post.objects.count()
    response = api.generic(
        "POST",
        "/api/v1/statuses",
        body.encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 422, response.content
    assert field in response.json()["error"]
    assert Post.objects.count() == before

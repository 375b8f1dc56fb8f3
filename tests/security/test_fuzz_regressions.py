"""Regression tests for what the fuzzer and the bad-input tests found, one per bug."""

import json

import pytest
from django.test import Client

from feeds.models import Post
from tests.media_helpers import upload

from .conftest import bearer


@pytest.fixture
def api(world):
    return Client(**bearer(world.tokens["owner"]))


def _status(api, body):
    return api.post("/api/v1/statuses", json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    "extra",
    [
        {"sensitive": None},
        {"sensitive": "maybe"},
        {"sensitive": 3},
        {"language": 5},
        {"spoiler_text": None},
        {"visibility": None},
        {"visibility": ""},
    ],
)
def test_status_create_refuses_mistyped_options(api, extra):
    """Ensures that options of the wrong type are a 422 (they were silently ignored) and
    nothing is posted."""
    before = Post.objects.count()
    response = _status(api, {"status": "hi", **extra})
    assert response.status_code == 422, response.content
    assert Post.objects.count() == before


@pytest.mark.parametrize("sensitive", [True, False, "true", "0"])
def test_status_create_accepts_boolean_words(api, sensitive):
    """Ensures that JSON booleans and the words forms send are accepted for ``sensitive``."""
    assert _status(api, {"status": "hi", "sensitive": sensitive}).status_code == 200


def test_app_create_with_a_json_array_is_422_not_500(world):
    """Ensures that a JSON body that is not an object is refused (it raised AttributeError)."""
    response = Client().post("/api/v1/apps", "[null, null]", content_type="application/json")
    assert response.status_code == 422


def test_status_create_accepts_null_reply_to(api):
    """Ensures that ``"in_reply_to_id": null`` means "not a reply", as JSON clients send it."""
    response = _status(api, {"status": "hi", "in_reply_to_id": None})
    assert response.status_code == 200 and response.json()["in_reply_to_id"] is None


def test_status_create_accepts_integral_float_reply_to(api, world):
    """Ensures that ``"in_reply_to_id": 50.0`` is the id 50 (JSON Schema calls it an
    integer; it was refused with 422), and 50.5 is refused."""
    target = world.owner_posts[0].pk
    ok = _status(api, {"status": "re", "in_reply_to_id": float(target)})
    assert ok.status_code == 200 and ok.json()["in_reply_to_id"] == str(target)
    assert _status(api, {"status": "re", "in_reply_to_id": target + 0.5}).status_code == 422


@pytest.mark.parametrize(
    "extra", [{"scopes": None}, {"website": {}}, {"redirect_uris": None}, {"redirect_uris": [1]}]
)
def test_app_create_refuses_mistyped_fields(world, extra):
    """Ensures that POST /api/v1/apps refuses non-string fields (they were ignored)."""
    body = {"client_name": "x", **extra}
    response = Client().post("/api/v1/apps", json.dumps(body), content_type="application/json")
    assert response.status_code == 422


@pytest.mark.parametrize(
    "query", ["limit=", "only_media=", "local=", "max_id=007", "exclude_replies="]
)
def test_empty_and_zero_padded_parameters_are_400(api, world, query):
    """Ensures that an empty limit or boolean and a zero-padded id are a 400, as the schema
    says (they used to be read as the default / as the id)."""
    path = (
        f"/api/v1/accounts/{world.owner.pk}/statuses"
        if "exclude" in query
        else "/api/v1/timelines/public"
    )
    assert api.get(f"{path}?{query}").status_code == 400


def test_deeply_nested_json_is_400(api):
    """Ensures that JSON nested past the recursion limit is a 400, not a RecursionError 500."""
    body = '{"a":' * 5000 + "1" + "}" * 5000
    response = api.post("/api/v1/statuses", body, content_type="application/json")
    assert response.status_code == 400 and "nested" in response.json()["error"]


def test_options_on_api_docs_is_not_500(world):
    """Ensures that OPTIONS /api/docs/ is a 405 (it rendered with no template: 500)."""
    assert Client().options("/api/docs/").status_code == 405


def test_web_non_ascii_max_id_is_400(client, world):
    """Ensures that ?max_id=١٢ is refused on the web (int() read it as 12)."""
    assert client.get("/public/", {"max_id": "١٢"}).status_code == 400


def test_schema_says_which_operations_need_no_token():
    """Ensures that operations open to logged-out readers list ``{}`` among their security
    requirements and those that need an account do not (schemathesis' ignored-auth check)."""
    from tests.api.conftest import operation

    assert {} in operation("timelines_public")["security"]
    assert {} in operation("statuses_get")["security"]
    assert {} not in operation("timelines_home")["security"]
    assert {} not in operation("statuses_delete")["security"]


def test_account_statuses_refuses_a_bad_flag_next_to_only_media(api, world):
    """Ensures that ``?only_media=true&exclude_reblogs=null`` is a 400, like
    ``?exclude_reblogs=null`` alone (it answered 200 ``[]``; found by the stateful fuzzer)."""
    path = f"/api/v1/accounts/{world.owner.pk}/statuses"
    assert api.get(path, {"exclude_reblogs": "null"}).status_code == 400
    assert api.get(path, {"only_media": "true", "exclude_reblogs": "null"}).status_code == 400


def test_schema_links_name_existing_operations_and_parameters():
    """Ensures that every OpenAPI link (api/openapi.py) targets an operation of the schema and
    fills parameters that operation has, so the stateful fuzzer can follow each of them."""
    from tests.api.conftest import openapi_schema

    operations = {
        op["operationId"]: op
        for methods in openapi_schema()["paths"].values()
        for op in methods.values()
        if isinstance(op, dict)
    }
    links = [
        (source, link)
        for source, op in operations.items()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) > 150
    for source, link in links:
        target = operations.get(link["operationId"])
        assert target is not None, (source, link)
        names = {parameter["name"] for parameter in target.get("parameters", [])}
        assert set(link.get("parameters", {})) <= names, (source, link)
        assert "requestBody" not in link or "requestBody" in target, (source, link)


def test_account_lookup_with_a_nul_byte_is_not_a_server_error(api):
    """Ensures that ``GET /api/v1/accounts/lookup?acct=a%00b`` is a 4xx (it was a 500 on
    PostgreSQL, which refuses NUL bytes; found by the stateful fuzzer)."""
    assert api.get("/api/v1/accounts/lookup", {"acct": "a\x00b"}).status_code in (400, 404)


def test_form_with_repeated_garbage_reply_ids_is_422(api, world):
    """Ensures that a form repeating ``in_reply_to_id`` with garbage (the body the fuzzer
    printed when its in-process transport sent something else) is refused with 422."""
    body = (
        "sensitive=true&spoiler_text=&in_reply_to_id=%C3%93%C3%834%C3%9C%C2%9F%C3%96"
        "&in_reply_to_id=nil&in_reply_to_id=%C2%A7%C2%A4%F1%97%AB%95&status=hello"
    )
    response = api.post(
        "/api/v1/statuses",
        body,
        content_type="application/x-www-form-urlencoded",
        headers={"Idempotency-Key": "fuzz-1"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
def test_oauth_client_id_with_a_nul_byte_is_not_a_server_error(db, path):
    """Ensures that a ``client_id`` with a NUL byte is refused like any unknown client (it was
    a 500 on PostgreSQL, which refuses NUL bytes in text; found by the fuzzer)."""
    body = {
        "grant_type": "authorization_code",
        "code": "x",
        "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
        "client_id": "ab\x00cd",
        "client_secret": "s",
    }
    response = Client().post(path, json.dumps(body), content_type="application/json")
    assert 400 <= response.status_code < 500
    assert Client().get("/oauth/authorize", {"client_id": "a\x00b"}).status_code == 400


def test_alt_text_is_measured_as_sent(api, settings, tmp_path):
    """Ensures that alt text of 1,501 characters is refused even when trimming its blank
    would bring it to 1,500 (the fuzzer sent a tab and 1,500 stars, and the schema's
    maxLength counts what was sent)."""
    settings.MEDIA_ROOT = str(tmp_path)
    response = api.post("/api/v1/media", {"file": upload(), "description": "\t" + "*" * 1500})
    assert response.status_code == 422 and "1,500" in response.json()["error"]
    assert (
        api.post("/api/v1/media", {"file": upload(), "description": "*" * 1500}).status_code == 200
    )


@pytest.mark.parametrize(
    "field,value",
    [
        ("client_name", "app\x00name"),
        ("client_name", "lone \ud800 surrogate"),
        ("website", "https://example.com/\x00"),
        ("redirect_uris", "https://example.com/cb\x00"),
    ],
)
def test_app_create_with_control_characters_is_422_not_500(world, field, value):
    """Ensures that POST /api/v1/apps refuses a NUL or a lone surrogate in any text field with
    a message naming the field (a NUL answered 500 on PostgreSQL: found by the fuzzer with
    FUZZ_EXAMPLES=50), and keeps no app."""
    from accounts.oauth.models import OAuthApplication

    body = {"client_name": "app", field: value}
    response = Client().post("/api/v1/apps", json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    assert field in response.json()["error"]
    assert not OAuthApplication.objects.filter(name="app").exists()


def test_search_with_an_empty_offset_is_400(api):
    """Ensures that ``offset=`` is refused as the schema's integer says, as an empty ``limit``
    is (it was read as 0)."""
    response = api.get("/api/v1/accounts/search?q=owner&offset=")
    assert response.status_code == 400
    assert "offset" in response.json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/timelines/public", "/api/v1/timelines/tag/coffee"])
def test_a_bad_flag_beside_remote_true_is_400(api, path):
    """Ensures that ``only_media`` is validated even when ``remote=true`` already decides the
    answer (it was skipped, so ``only_media=0.02`` answered 200: found by the fuzzer)."""
    response = api.get(f"{path}?remote=true&only_media=0.02")
    assert response.status_code == 400
    assert "only_media" in response.json()["error"]

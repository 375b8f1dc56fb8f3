"""What Mastodon apps call when they start: answered (empty where we have no such feature),
NodeInfo, the instance fields strict clients decode, streaming refused clearly, and CORS."""

import pytest
from django.test import Client

from tests.api.conftest import assert_schema

pytestmark = pytest.mark.django_db

EMPTY_FOR_A_PERSON = [
    ("/api/v1/filters", "filters_v1"),
    ("/api/v2/filters", "filters_v2"),
    ("/api/v1/lists", "lists"),
    ("/api/v1/announcements", "announcements"),
    ("/api/v1/follow_requests", "follow_requests"),
    ("/api/v1/followed_tags", "followed_tags"),
]
EMPTY_FOR_ANYONE = [
    ("/api/v1/custom_emojis", "custom_emojis"),
    ("/api/v1/trends/tags", "trends_tags"),
    ("/api/v1/trends/statuses", "trends_statuses"),
    ("/api/v1/trends/links", "trends_links"),
    ("/api/v1/trends", None),
]


@pytest.mark.parametrize(("path", "operation_id"), EMPTY_FOR_A_PERSON)
def test_features_we_lack_answer_an_empty_list(alice, anon, path, operation_id):
    """Ensures that filters, lists, announcements, follow requests and followed tags answer
    ``[]`` to a person (apps crash on a 404) and 401 without a token."""
    response = alice.client.get(path)
    assert response.status_code == 200 and response.json() == []
    assert_schema(response, operation_id)
    assert anon.get(path).status_code == 401


@pytest.mark.parametrize(("path", "operation_id"), EMPTY_FOR_ANYONE)
def test_public_lists_we_lack_answer_empty_to_anyone(anon, path, operation_id):
    """Ensures that custom emojis and trends answer ``[]`` without a token."""
    response = anon.get(path)
    assert response.status_code == 200 and response.json() == []
    if operation_id:
        assert_schema(response, operation_id)


def test_preferences_and_markers(alice, reader):
    """Ensures that preferences carry Mastodon's keys and markers are an empty object."""
    response = alice.client.get("/api/v1/preferences")
    assert response.json()["posting:default:visibility"] == "public"
    assert_schema(response, "preferences")
    assert reader.client.get("/api/v1/markers").json() == {}


def test_nodeinfo(anon):
    """Ensures that /.well-known/nodeinfo points at a NodeInfo 2.0 document that counts users."""
    links = anon.get("/.well-known/nodeinfo").json()["links"]
    assert links[0]["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.0"
    document = anon.get(links[0]["href"].split("testserver", 1)[1])
    assert document.status_code == 200
    body = document.json()
    assert body["version"] == "2.0" and body["software"]["name"] == "microblog"
    assert "total" in body["usage"]["users"]


def test_instance_v2_has_the_fields_strict_clients_decode(anon):
    """Ensures that /api/v2/instance carries the polls configuration Ice Cubes requires, the
    media limits and the registration and contact objects."""
    configuration = anon.get("/api/v2/instance").json()["configuration"]
    assert set(configuration["polls"]) == {
        "max_options",
        "max_characters_per_option",
        "min_expiration",
        "max_expiration",
    }
    assert "image_size_limit" in configuration["media_attachments"]
    assert configuration["statuses"]["characters_reserved_per_url"] == 23
    assert set(anon.get("/api/v1/instance").json()["configuration"]["polls"]) == set(
        configuration["polls"]
    )


def test_streaming_health_answers_and_the_stream_is_refused(anon):
    """Ensures that the streaming health check says OK and a stream is a 501 that says what
    to do instead."""
    health = anon.get("/api/v1/streaming/health")
    assert health.status_code == 200 and health.content == b"OK"
    for path in ("/api/v1/streaming", "/api/v1/streaming/user", "/api/v1/streaming/public"):
        response = anon.get(path)
        assert response.status_code == 501
        assert "Poll the timelines" in response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/timelines/public",
        "/oauth/token",
        "/oauth/revoke",
        "/.well-known/oauth-authorization-server",
        "/.well-known/nodeinfo",
    ],
)
def test_cors_for_browser_clients(path):
    """Ensures that browser clients on other origins may call the API, the token endpoints and
    the metadata (``*``, no credentials), and read Link and the rate-limit headers."""
    client = Client(headers={"Origin": "https://elk.zone"})
    preflight = client.options(
        path,
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight
    response = client.get("/api/v1/timelines/public")
    assert response["Access-Control-Allow-Origin"] == "*"
    exposed = response["Access-Control-Expose-Headers"]
    assert "Link" in exposed and "X-RateLimit-Remaining" in exposed


@pytest.mark.parametrize("path", ["/oauth/authorize", "/accounts/login/", "/"])
def test_no_cors_on_pages(path):
    """Ensures that the consent, login and other web pages send no CORS headers."""
    response = Client(headers={"Origin": "https://elk.zone"}).get(path)
    assert "Access-Control-Allow-Origin" not in response

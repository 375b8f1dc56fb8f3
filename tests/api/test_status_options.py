"""Unsupported options of POST /api/v1/statuses (issue 12, item 6): scheduling, polls and
attachments are refused with 422 and a sentence, as docs/api.md says, and nothing is posted."""

import json
from urllib.parse import urlencode

import pytest

from feeds.models import Post

pytestmark = pytest.mark.django_db

JSON_BODIES = [
    {"status": "later", "scheduled_at": "2030-01-01T12:00:00.000Z"},
    {"status": "vote", "poll": {"options": ["yes", "no"], "expires_in": 3600}},
    {"status": "vote", "poll": {"options": []}},
    {"status": "picture", "media_ids": ["1"]},
]
FORM_BODIES = [
    {"status": "later", "scheduled_at": "2030-01-01T12:00:00Z"},
    {"status": "vote", "poll[options][]": ["yes", "no"], "poll[expires_in]": "3600"},
    {"status": "vote", "poll[expires_in]": "3600"},
    {"status": "picture", "media_ids[]": ["1"]},
    {"status": "picture", "media_ids": "1"},
]


def _expected_word(body: dict) -> str:
    name = next(key for key in body if key != "status")
    return name.split("[", 1)[0]


@pytest.mark.parametrize("body", JSON_BODIES)
def test_unsupported_options_in_json_are_422(alice, body):
    """Ensures that a JSON body with scheduled_at, a poll or media is refused with 422 naming
    the option, and nothing is published."""
    response = alice.client.post(
        "/api/v1/statuses", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422, response.content
    assert response.json()["error"].startswith(_expected_word(body))
    assert not Post.objects.exists()


@pytest.mark.parametrize("body", FORM_BODIES)
@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_unsupported_options_in_forms_are_422(alice, body, encoding):
    """Ensures that form bodies (urlencoded and multipart, Mastodon's bracket names) with
    scheduled_at, a poll or media are refused with 422, and nothing is published."""
    client = alice.client
    if encoding == "multipart":
        response = client.post("/api/v1/statuses", body, format="multipart")
    else:
        response = client.post(
            "/api/v1/statuses",
            urlencode(body, doseq=True),
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 422, response.content
    assert response.json()["error"].startswith(_expected_word(body))
    assert not Post.objects.exists()


@pytest.mark.parametrize("extra", [{"scheduled_at": None}, {"poll": None}, {"media_ids": []}])
def test_empty_options_are_accepted(alice, extra):
    """Ensures that clients sending the options empty (null, []) still post, as Mastodon."""
    response = alice.client.post(
        "/api/v1/statuses", json.dumps({"status": "now", **extra}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert Post.objects.get().text == "now"

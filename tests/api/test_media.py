"""Media through the Mastodon API: POST /api/v2/media (and v1), GET/PUT/DELETE
/api/v1/media/:id before posting, media_ids[] on POST /api/v1/statuses, and the
MediaAttachment entity in statuses."""

import io

import pytest
from PIL import Image

from feeds.models import MediaAttachment, Post
from tests.api.conftest import assert_schema
from tests.media_helpers import image_bytes, png_bomb, upload

pytestmark = pytest.mark.django_db

MEDIA_V2 = "/api/v2/media"
MEDIA_V1 = "/api/v1/media"
STATUSES = "/api/v1/statuses"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _upload(caller, path=MEDIA_V2, **fields):
    fields.setdefault("file", upload())
    return caller.client.post(path, fields, format="multipart")


def test_upload_describe_and_post_with_media_ids(alice, anon):
    """Ensures that an image uploaded through v2 (and v1) comes back as Mastodon's
    MediaAttachment, can be described before posting, and that media_ids[] (JSON and form)
    attaches the uploads in order to the status, whose entity lists them."""
    response = _upload(alice, description="a red square", focus="0.5,-0.25")
    assert response.status_code == 200
    assert_schema(response, "media_create_v2")
    first = response.json()
    assert first["type"] == "image" and first["description"] == "a red square"
    assert first["meta"]["original"] == {
        "width": 800,
        "height": 600,
        "size": "800x600",
        "aspect": 4 / 3,
    }
    assert first["meta"]["small"]["width"] == 400
    assert first["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    assert first["blurhash"] and first["remote_url"] is None and first["text_url"] is None
    second = _upload(alice, MEDIA_V1).json()
    updated = alice.client.put(
        f"{MEDIA_V1}/{second['id']}", {"description": "now described"}, format="json"
    )
    assert updated.status_code == 200 and updated.json()["description"] == "now described"
    got = alice.client.get(f"{MEDIA_V1}/{second['id']}")
    assert got.status_code == 200 and got.json()["description"] == "now described"
    response = alice.client.post(
        STATUSES, {"status": "", "media_ids": [second["id"], first["id"]]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert_schema(response, "statuses_create")
    status = response.json()
    assert [m["id"] for m in status["media_attachments"]] == [second["id"], first["id"]]
    # The URLs are served (to anyone who was handed the status), as real images.
    image = anon.get(status["media_attachments"][0]["url"])
    assert image.status_code == 200
    assert Image.open(io.BytesIO(b"".join(image.streaming_content))).size == (800, 600)
    # Form bodies use media_ids[].
    third = _upload(alice).json()
    response = alice.client.post(STATUSES, {"status": "form", "media_ids[]": [third["id"]]})
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["media_attachments"]] == [third["id"]]
    # Attached media is reached through its status only (as Mastodon: 404 here).
    assert alice.client.get(f"{MEDIA_V1}/{third['id']}").status_code == 404
    read = anon.get(f"{STATUSES}/{response.json()['id']}")
    assert read.status_code == 200
    assert_schema(read, "statuses_get")
    assert read.json()["media_attachments"][0]["description"] is None


@pytest.mark.parametrize(
    ("data", "name", "status", "message"),
    [
        (b"", "empty.png", 422, "empty"),
        (image_bytes()[:400], "cut.jpg", 422, "not an image"),
        (b"hello, I am text", "fake.png", 422, "not an image"),
        (png_bomb(), "bomb.png", 413, "too many pixels"),
    ],
    ids=["empty", "truncated-jpeg", "text-as-png", "png-bomb"],
)
def test_bad_uploads_answer_4xx_and_store_nothing(alice, data, name, status, message):
    """Ensures that an empty file, a truncated JPEG, a text file named .png and a 20000×20000
    PNG bomb are refused (422 / 413) with Mastodon's error body, and nothing is stored."""
    response = _upload(alice, file=upload(name, data, "image/png"))
    assert response.status_code == status
    assert message in response.json()["error"]
    assert not MediaAttachment.objects.exists()


def test_upload_field_refusals(alice, settings):
    """Ensures that no file, an over-long alt text, a bad focus and a file over the byte
    limit are refused with 422 / 413 and a sentence."""
    assert alice.client.post(MEDIA_V2, {"description": "x"}, format="multipart").status_code == 422
    long_alt = _upload(alice, description="x" * 1501)
    assert long_alt.status_code == 422 and "1,500" in long_alt.json()["error"]
    assert _upload(alice, focus="2,0").status_code == 422
    settings.MEDIA_IMAGE_MAX_BYTES = 1000
    too_big = _upload(alice)
    assert too_big.status_code == 413 and "too large" in too_big.json()["error"]
    assert not MediaAttachment.objects.exists()


def test_media_ids_refusals_leave_nothing_bound(alice, bob):
    """Ensures that media_ids naming someone else's upload, an attached one, an unknown id,
    the same id twice, a non-id or more than four are 422 with a message, that no status is
    posted and no upload attached."""
    mine = [_upload(alice).json()["id"] for _ in range(5)]
    theirs = _upload(bob).json()["id"]
    attached = alice.client.post(STATUSES, {"status": "a", "media_ids": [mine[4]]}, format="json")
    assert attached.status_code == 200
    for ids, message in (
        ([mine[0], theirs], "no upload"),
        ([mine[0], mine[4]], "already attached"),
        (["999999999"], "no upload"),
        ([mine[0], mine[0]], "twice"),
        (["abc"], "not a media id"),
        ([*mine[:4], theirs], "at most 4"),
    ):
        response = alice.client.post(
            STATUSES, {"status": "refused", "media_ids": ids}, format="json"
        )
        assert response.status_code == 422, ids
        assert message in response.json()["error"]
    assert not Post.objects.filter(text="refused").exists()
    assert MediaAttachment.objects.filter(post__isnull=False).count() == 1
    # bob cannot see, describe or delete alice's upload.
    for method in ("get", "put", "delete"):
        assert getattr(bob.client, method)(f"{MEDIA_V1}/{mine[0]}").status_code == 404
    assert alice.client.delete(f"{MEDIA_V1}/{mine[0]}").status_code == 200
    assert not MediaAttachment.objects.filter(pk=mine[0]).exists()


def test_media_needs_a_token_with_write(reader, anon):
    """Ensures that uploading needs authentication and the write scope."""
    assert anon.post(MEDIA_V2, {"file": upload()}, format="multipart").status_code == 401
    assert _upload(reader).status_code == 403


def test_unposted_uploads_are_served_to_their_owner_only(alice, bob, anon):
    """Ensures that the URL of an upload not yet posted serves the image to its owner's token
    and to nobody else (404), even with the URL in hand."""
    url = _upload(alice).json()["preview_url"]
    assert alice.client.get(url).status_code == 200
    assert bob.client.get(url).status_code == 404
    assert anon.get(url).status_code == 404

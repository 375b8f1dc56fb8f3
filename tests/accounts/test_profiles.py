"""Tests for profiles: display name, bio, avatar and header, edited in settings and through
PATCH /api/v1/accounts/update_credentials, validated with Pillow, stripped of EXIF, shown on
profile pages and in the account entity."""

import io
import os

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.models import User
from tests.api.conftest import assert_schema, make_caller
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GPS_IFD = 0x8825


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def image_bytes(fmt="JPEG", size=(800, 600), *, exif=True, mode="RGB") -> bytes:
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else None)
    out = io.BytesIO()
    kwargs = {}
    if exif and fmt == "JPEG":
        data = Image.Exif()
        data[0x010F] = "SpyCam"  # Make
        data[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 0.0)}
        kwargs["exif"] = data.tobytes()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def upload(name="me.jpg", data=None, content_type="image/jpeg"):
    return SimpleUploadedFile(name, data if data is not None else image_bytes(), content_type)


def stored_files(media_root) -> list:
    return sorted(p for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []


def test_settings_upload_is_resized_and_stripped_of_exif(client, media_root):
    """Ensures that an avatar uploaded in settings is stored re-encoded at 400×400 without
    EXIF (no camera, no GPS), shown on the profile page and served from /media/."""
    me = UserFactory(username="me")
    client.force_login(me)
    response = client.post(
        reverse("accounts:settings"),
        {"display_name": "Me", "bio": "Hello", "avatar": upload()},
    )
    assert response.status_code == 302
    me.refresh_from_db()
    assert me.avatar.startswith("avatars/") and me.display_name == "Me"
    with default_storage.open(me.avatar) as handle:
        stored = Image.open(handle)
        stored.load()
    assert stored.size == (400, 400)
    assert not stored.getexif() and "exif" not in stored.info
    page = client.get(reverse("feeds:profile", args=["me"])).content.decode()
    assert f'src="/media/{me.avatar}"' in page
    served = client.get(f"/media/{me.avatar}")
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not an image at all", "not an image we can read"),
        (image_bytes("BMP", exif=False), "Upload a JPEG, PNG, WebP or GIF image"),
    ],
)
def test_settings_refuse_non_images_and_store_nothing(client, media_root, data, message):
    """Ensures that a file that is not a JPEG/PNG/WebP/GIF (whatever its name says) is a 400
    with a clear message, and neither the file nor the other fields are stored."""
    me = UserFactory(username="me", display_name="Before")
    client.force_login(me)
    response = client.post(
        reverse("accounts:settings"),
        {"display_name": "After", "bio": "", "avatar": upload("fake.png", data)},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    me.refresh_from_db()
    assert me.display_name == "Before" and me.avatar == ""
    assert stored_files(media_root) == []


@pytest.mark.parametrize("field", ["display_name", "bio"])
def test_settings_refuse_control_characters_and_store_nothing(client, media_root, field):
    """Ensures that the settings page refuses a control character (a BEL, which the form's
    own NUL check lets through) in the name or bio, as the API does: a 400 naming the
    problem, no field changed and no image stored."""
    me = UserFactory(username="me", display_name="Before", bio="Old")
    client.force_login(me)
    data = {"display_name": "After", "bio": "New", "avatar": upload()}
    data[field] = "ring\x07bell"
    response = client.post(reverse("accounts:settings"), data)
    assert response.status_code == 400
    assert "Control characters (such as NUL) cannot be saved" in response.content.decode()
    me.refresh_from_db()
    assert (me.display_name, me.bio, me.avatar) == ("Before", "Old", "")
    assert stored_files(media_root) == []


def test_too_large_and_decompression_bombs_are_refused(settings, media_root):
    """Ensures that files over the byte limit and images over the pixel limit are refused
    with 413 through the API, and nothing is stored."""
    caller = make_caller(username="api_me")
    settings.PROFILE_IMAGE_MAX_BYTES = 1000
    big = caller.client.patch(
        "/api/v1/accounts/update_credentials", {"avatar": upload()}, format="multipart"
    )
    assert big.status_code == 413 and "too large" in big.json()["error"]
    settings.PROFILE_IMAGE_MAX_BYTES = 2 * 1024 * 1024
    settings.IMAGE_MAX_PIXELS = 100 * 100
    bomb = image_bytes("PNG", (2000, 2000), exif=False)  # tiny file, many pixels
    refused = caller.client.patch(
        "/api/v1/accounts/update_credentials",
        {"header": upload("bomb.png", bomb, "image/png")},
        format="multipart",
    )
    assert refused.status_code == 413 and "pixels" in refused.json()["error"]
    assert stored_files(media_root) == []


def test_update_credentials_changes_name_note_and_images(
    media_root, django_capture_on_commit_callbacks
):
    """Ensures that PATCH update_credentials changes display name and note (JSON or
    multipart with images), answers with the CredentialAccount showing the new avatar URL,
    and replaced images are deleted."""
    caller = make_caller(username="api_me")
    response = caller.client.patch(
        "/api/v1/accounts/update_credentials",
        {"display_name": "API Me", "note": "From the API"},
        format="json",
    )
    assert response.status_code == 200
    assert_schema(response, "accounts_update_credentials")
    assert response.json()["display_name"] == "API Me"
    assert response.json()["source"]["note"] == "From the API"
    png = image_bytes("PNG", (300, 300), exif=False, mode="RGBA")
    first = caller.client.patch(
        "/api/v1/accounts/update_credentials",
        {"avatar": upload("a.png", png, "image/png"), "header": upload()},
        format="multipart",
    )
    assert first.status_code == 200
    user = User.objects.get(pk=caller.user.pk)
    assert first.json()["avatar"] == f"http://testserver/media/{user.avatar}"
    assert user.avatar.endswith(".png") and user.header.endswith(".jpg")
    old_avatar = user.avatar
    with django_capture_on_commit_callbacks(execute=True):
        caller.client.patch(
            "/api/v1/accounts/update_credentials", {"avatar": upload()}, format="multipart"
        )
    assert not default_storage.exists(old_avatar)
    account = caller.client.get(f"/api/v1/accounts/{user.pk}").json()
    assert account["avatar"].endswith(User.objects.get(pk=user.pk).avatar)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"display_name": "x" * 51}, "display_name"),
        ({"note": "x" * 161}, "note"),
        ({"note": 5}, "note: must be a string"),
        ({"avatar": "https://example.com/a.png"}, "avatar: send the image as a file"),
    ],
)
def test_update_credentials_refuses_bad_input_with_422(body, message, media_root):
    """Ensures that too-long or mistyped fields are a 422 naming the field, and nothing
    changes."""
    caller = make_caller(username="api_me", display_name="Same")
    response = caller.client.patch("/api/v1/accounts/update_credentials", body, format="json")
    assert response.status_code == 422
    assert message in response.json()["error"]
    assert User.objects.get(pk=caller.user.pk).display_name == "Same"


def test_media_view_serves_only_profile_images(client):
    """Ensures that /media/ serves nothing outside the profile-image folders and 404s
    unknown names."""
    assert client.get("/media/avatars/missing.jpg").status_code == 404
    assert client.get("/media/other/x.jpg").status_code == 404
    assert client.get("/media/avatars/x.txt").status_code == 404


def test_a_real_sized_photo_passes_the_body_limit(media_root):
    """Ensures that an avatar larger than the general 256 KB body limit (a phone photo) is
    accepted on the upload route, while the same body elsewhere is a 413."""
    noisy = Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3))
    out = io.BytesIO()
    noisy.save(out, format="JPEG", quality=95)
    data = out.getvalue()
    assert len(data) > 256 * 1024
    caller = make_caller(username="api_me")
    response = caller.client.patch(
        "/api/v1/accounts/update_credentials", {"avatar": upload("p.jpg", data)}, format="multipart"
    )
    assert response.status_code == 200, response.content[:200]
    elsewhere = caller.client.post(
        "/api/v1/statuses", {"status": "x", "avatar": upload("p.jpg", data)}, format="multipart"
    )
    assert elsewhere.status_code == 413


@pytest.mark.parametrize("escaped", ["bad\\u0000name", "lone \\ud800 surrogate"])
def test_update_credentials_refuses_control_characters(escaped):
    """Ensures that NUL or a lone surrogate in a text field is a 422, not a database error."""
    caller = make_caller(username="api_me", display_name="Same")
    response = caller.client.patch(
        "/api/v1/accounts/update_credentials",
        '{"display_name": "' + escaped + '"}',
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert response.json()["error"].startswith("display_name: Control characters")
    assert User.objects.get(pk=caller.user.pk).display_name == "Same"


def test_update_credentials_with_a_bad_ai_training_stores_no_image(media_root):
    """Ensures that an unknown ai_training word is refused before the avatar sent with it is
    stored: a 422 with the choice's message and no file left behind."""
    caller = make_caller(username="api_me")
    response = caller.client.patch(
        "/api/v1/accounts/update_credentials",
        {"avatar": upload(), "ai_training": "sometimes"},
        format="multipart",
    )
    assert response.status_code == 422
    assert 'ai_training must be one of "allow"' in response.json()["error"]
    assert User.objects.get(pk=caller.user.pk).avatar == ""
    assert stored_files(media_root) == []

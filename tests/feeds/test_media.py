"""Images on posts: validation and re-encoding, the web composer, signed expiring URLs and the
file view, deleting a post's files and purging uploads never posted."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from core.images import ImageRefused
from feeds import media as media_service
from feeds.media import media_create, media_image_prepare, media_unattached_purge
from feeds.media_urls import media_url
from feeds.models import MediaAttachment, Post
from feeds.services import post_create, post_delete
from tests.factories import UserFactory
from tests.media_helpers import GPS_IFD, image_bytes, png_bomb, upload

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 26, 12, 10, tzinfo=UTC)
SRC = re.compile(r'<img src="([^"]+)" alt="([^"]*)"')
HREF = re.compile(r'<a href="(/media/p/[^"]+)"')


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _stored_files(root) -> list:
    folder = root / media_service.FOLDER
    return sorted(folder.iterdir()) if folder.exists() else []


def _post_with_image(author, *, description="a red square", data=None):
    media = media_create(owner=author, upload=upload(data=data), description=description)
    return post_create(author=author, text="look", media_ids=[media.pk]), media


# --- Validation and re-encoding --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mode", "extension"),
    [
        ("JPEG", "RGB", "jpg"),
        ("PNG", "RGBA", "png"),
        ("WEBP", "RGB", "jpg"),
        ("JPEG", "CMYK", "jpg"),
    ],
)
def test_images_are_re_encoded_without_metadata(fmt, mode, extension):
    """Ensures that JPEG, PNG (transparency kept), WebP and CMYK JPEG uploads are re-encoded
    from their pixels alone: no EXIF (camera, GPS) survives, a thumbnail and blurhash exist."""
    prepared = media_image_prepare(upload=upload(data=image_bytes(fmt, mode=mode)))
    assert prepared.extension == extension
    for data in (prepared.data, prepared.thumbnail):
        image = Image.open(io.BytesIO(data))
        assert not image.getexif() and GPS_IFD not in image.getexif()
        assert "exif" not in image.info
    assert (prepared.width, prepared.height) == (800, 600)
    assert (prepared.thumbnail_width, prepared.thumbnail_height) == (400, 300)
    assert len(prepared.blurhash) >= 6


def test_png_text_exif_and_icc_chunks_are_dropped():
    """Ensures that a PNG carrying EXIF (with GPS), an ICC profile and text chunks comes out
    with none of them."""
    from PIL import ImageCms, PngImagePlugin

    exif = Image.Exif()
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 0.0)}
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "taken at home")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (1, 2, 3, 100)).save(
        out, format="PNG", exif=exif.tobytes(), pnginfo=text, icc_profile=icc
    )
    prepared = media_image_prepare(upload=upload("x.png", out.getvalue(), "image/png"))
    stored = Image.open(io.BytesIO(prepared.data))
    assert prepared.extension == "png"
    assert not stored.getexif()
    assert not {"exif", "icc_profile", "Comment"} & set(stored.info)


def test_large_images_are_scaled_down_and_animated_gifs_keep_their_first_frame(settings):
    """Ensures that the stored image is at most MEDIA_IMAGE_MAX_SIDE on its long side (aspect
    kept) and that an animated GIF becomes a still of its first frame."""
    settings.MEDIA_IMAGE_MAX_SIDE = 1000
    prepared = media_image_prepare(upload=upload(data=image_bytes("PNG", (3000, 1500))))
    assert (prepared.width, prepared.height) == (1000, 500)
    gif = media_image_prepare(upload=upload(data=image_bytes("GIF", frames=3)))
    still = Image.open(io.BytesIO(gif.data))
    assert getattr(still, "n_frames", 1) == 1
    assert still.getpixel((0, 0))[:3] == pytest.approx((200, 30, 30), abs=12)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 422),
        (image_bytes()[:400], 422),  # a truncated JPEG
        (b"not an image at all", 422),  # a text file named .png below
        (png_bomb(), 413),  # 20000×20000: a decompression bomb
    ],
    ids=["empty", "truncated-jpeg", "text-as-png", "png-bomb"],
)
def test_bad_uploads_are_refused_with_a_status_and_a_sentence(data, status):
    """Ensures that an empty file, a truncated JPEG, text named .png and a PNG bomb are
    refused (413 for too many pixels, 422 for not an image) with a message for people."""
    with pytest.raises(ImageRefused) as refused:
        media_image_prepare(upload=upload("x.png", data, "image/png"))
    assert refused.value.status == status
    assert refused.value.messages[0].endswith(".")


def test_files_over_the_byte_limit_are_refused_with_413(settings):
    """Ensures that an upload over MEDIA_IMAGE_MAX_BYTES is refused before decoding (413)."""
    settings.MEDIA_IMAGE_MAX_BYTES = 1000
    with pytest.raises(ImageRefused) as refused:
        media_image_prepare(upload=upload(data=image_bytes()))
    assert refused.value.status == 413


# --- Attaching ------------------------------------------------------------------------------


def test_attaching_refuses_others_attached_unknown_and_too_many_and_binds_nothing():
    """Ensures that media_ids of someone else's upload, an attached one, an unknown id or
    more than four are refused, and that the refused post leaves no upload attached."""
    alice, bob = UserFactory(), UserFactory()
    mine = [media_create(owner=alice, upload=upload()).pk for _ in range(5)]
    theirs = media_create(owner=bob, upload=upload()).pk
    posted, _ = _post_with_image(alice)
    attached = posted.media_attachments.get().pk
    for ids, message in (
        ([mine[0], theirs], "no upload"),
        ([mine[0], attached], "already attached"),
        ([mine[0], 10**12], "no upload"),
        (mine, "at most 4"),
    ):
        with pytest.raises(media_service.ValidationError, match=message):
            post_create(author=alice, text="refused", media_ids=ids)
    assert not Post.objects.filter(text="refused").exists()
    assert not MediaAttachment.objects.filter(pk__in=mine, post__isnull=False).exists()
    post = post_create(author=alice, text="", media_ids=mine[:4][::-1])  # text may be empty
    order = list(post.media_attachments.order_by("position").values_list("pk", flat=True))
    assert order == mine[:4][::-1]


def test_alt_text_over_1500_characters_is_refused():
    """Ensures that alt text over Mastodon's 1,500 characters is refused and nothing stored."""
    with pytest.raises(media_service.ValidationError, match="1,500"):
        media_create(owner=UserFactory(), upload=upload(), description="x" * 1501)
    assert not MediaAttachment.objects.exists()


# --- The web composer and pages -------------------------------------------------------------


def _compose(client, **fields):
    return client.post(reverse("feeds:post_create"), {"next": "/", **fields})


def test_composer_posts_images_with_alt_text_shown_on_timelines(client, media_root):
    """Ensures that the composer posts up to four images with alt texts, in order, and that
    the home page, the post page and the profile show each thumbnail with its alt text,
    linking to the full-size image, by signed URLs the file view serves."""
    alice = UserFactory(username="alice")
    client.force_login(alice)
    response = _compose(
        client,
        text="two photos",
        image_1=upload("one.jpg"),
        alt_1="the first",
        image_2=upload("two.png", image_bytes("PNG", mode="RGBA"), "image/png"),
        alt_2="the second",
    )
    assert response.status_code == 302
    post = Post.objects.get(text="two photos")
    assert [m.description for m in post.media_attachments.order_by("position")] == [
        "the first",
        "the second",
    ]
    for page in ("/", f"/posts/{post.pk}/", "/@alice/"):
        html = client.get(page).content.decode()
        images = SRC.findall(html)
        assert [alt for _, alt in images] == ["the first", "the second"], page
        assert len(HREF.findall(html)) == 2
    small, _ = images[0]
    served = client.get(small)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert served["Cache-Control"].startswith("private, max-age=")
    assert served["Content-Usage"] == "train-ai=n"
    full = client.get(HREF.findall(html)[1])
    assert full["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(full.streaming_content))).size == (800, 600)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"image_1": ("x.png", b"hello", "image/png")}, "not an image we can read"),
        ({"image_1": ("x.png", b"", "image/png")}, "empty"),
        ({"image_1": ("bomb.png", png_bomb(), "image/png")}, "too many pixels"),
        ({"alt_1": "a", "image_1": None}, "Choose an image"),
        ({"image_1": ("ok.jpg", image_bytes(), "image/jpeg"), "alt_1": "x" * 1501}, "1,500"),
    ],
    ids=["text-file", "empty", "bomb", "alt-without-image", "long-alt"],
)
def test_composer_refuses_bad_images_and_stores_nothing(client, media_root, fields, message):
    """Ensures that the composer answers a bad image or alt text with the form again (400)
    saying what is wrong, and stores no post, no upload and no file."""
    client.force_login(UserFactory())
    data = {"text": "with a bad image"}
    for name, value in fields.items():
        if isinstance(value, tuple):
            data[name] = upload(*value)
        elif value is not None:
            data[name] = value
    response = _compose(client, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Post.objects.exists() and not MediaAttachment.objects.exists()
    assert _stored_files(media_root) == []


def test_composer_refuses_more_than_four_files(client, media_root):
    """Ensures that a crafted composer form with more than four files is refused (400, with
    the limit named) and stores nothing."""
    client.force_login(UserFactory())
    files = {f"image_{slot}": upload() for slot in range(1, 5)}
    response = _compose(client, text="five", **files, image_5=upload())
    assert response.status_code == 400
    assert "at most 4 images" in response.content.decode()
    assert not Post.objects.exists() and _stored_files(media_root) == []


def test_a_failed_post_deletes_the_files_it_stored(client, media_root):
    """Ensures that when the post itself is refused after its images were accepted (text too
    long), the composer leaves no upload and no file behind."""
    client.force_login(UserFactory())
    response = _compose(client, text="x" * 600, image_1=upload())
    assert response.status_code == 400
    assert not MediaAttachment.objects.exists()
    assert _stored_files(media_root) == []


# --- Signed URLs and the file view ----------------------------------------------------------


def test_signed_urls_are_stable_within_the_hour_and_expire_after_the_next(client):
    """Ensures that an image's URL is the same all through one hour (a cacheable page), is
    served until the end of the next hour, and is refused (403) after that."""
    author = UserFactory()
    _, media = _post_with_image(author)
    with time_machine.travel(T0, tick=False):
        url = media_url(media, "small")
        assert media_url(media, "small", now=T0 + timedelta(minutes=49)) == url
        assert media_url(media, "small", now=T0 + timedelta(minutes=50)) != url
        response = client.get(url)
        assert response.status_code == 200
        assert response["Cache-Control"] == f"private, max-age={(50 + 60) * 60}"
    with time_machine.travel(T0 + timedelta(minutes=109), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(T0 + timedelta(minutes=110), tick=False):
        response = client.get(url)
        assert response.status_code == 403
        assert "expired" in response.content.decode()


def test_forged_or_re_pointed_urls_are_refused(client):
    """Ensures that a URL whose signature, id, variant or expiry was changed answers 403, and
    an unknown file name 404: image ids cannot be walked."""
    author = UserFactory()
    _, media = _post_with_image(author)
    _, other = _post_with_image(author)
    url = media_url(media, "small")
    prefix, expires, signature, filename = url.rsplit("/", 3)
    assert client.get(url).status_code == 200
    # The last character changed to one it is not: "A" over an "A" would be no forgery.
    tampered = signature[:-1] + ("B" if signature.endswith("A") else "A")
    forged = [
        f"{prefix}/{expires}/{tampered}/{filename}",
        f"{prefix}/{int(expires) + 3600}/{signature}/{filename}",
        f"{prefix}/{expires}/{signature}/original.jpg",
        url.replace(f"/media/p/{media.pk}/", f"/media/p/{other.pk}/"),
    ]
    for path in forged:
        assert client.get(path).status_code == 403, path
    assert client.get(f"{prefix}/{expires}/{signature}/small.gif").status_code == 404


def test_images_of_hidden_posts_and_others_uploads_are_not_served(client):
    """Ensures that the file view serves an image only while its post is visible (not after
    the author is suspended or the post deleted), and an upload not yet posted only to its
    owner (by session or bearer token)."""
    author = UserFactory()
    post, media = _post_with_image(author)
    url = media_url(media, "original")
    assert client.get(url).status_code == 200
    author.is_active = False
    author.save(update_fields=["is_active"])
    assert client.get(url).status_code == 404
    owner = UserFactory()
    draft = media_create(owner=owner, upload=upload())
    draft_url = media_url(draft, "small")
    assert client.get(draft_url).status_code == 404
    client.force_login(UserFactory())
    assert client.get(draft_url).status_code == 404
    client.force_login(owner)
    assert client.get(draft_url).status_code == 200


def test_x_accel_redirect_hands_the_file_to_the_web_server(client, settings):
    """Ensures that with MEDIA_X_ACCEL_PREFIX the view answers with X-Accel-Redirect to the
    stored name and no body, after the same checks."""
    settings.MEDIA_X_ACCEL_PREFIX = "/protected-media/"
    _, media = _post_with_image(UserFactory())
    response = client.get(media_url(media, "original"))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{media.file}"
    assert response.content == b""


# --- Deleting and purging -------------------------------------------------------------------


def test_deleting_a_post_deletes_its_files_after_commit(django_capture_on_commit_callbacks):
    """Ensures that deleting a post removes its images' rows and, once that commits, their
    files (full size and thumbnail)."""
    author = UserFactory()
    post, media = _post_with_image(author)
    names = [media.file, media.thumbnail]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_delete(post=post, actor=author)
    assert all(default_storage.exists(name) for name in names)  # not before the commit
    for callback in callbacks:
        callback()
    assert not MediaAttachment.objects.exists()
    assert not any(default_storage.exists(name) for name in names)


def test_uploads_never_posted_are_purged_after_a_day(django_capture_on_commit_callbacks):
    """Ensures that the purge deletes uploads unattached for MEDIA_UNATTACHED_HOURS with their
    files, keeps younger ones and attached ones, and changes nothing when run again."""
    author = UserFactory()
    with time_machine.travel(T0, tick=False):
        old = media_create(owner=author, upload=upload())
        _post, kept_attached = _post_with_image(author)
    with time_machine.travel(T0 + timedelta(hours=23), tick=False):
        young = media_create(owner=author, upload=upload())
    with django_capture_on_commit_callbacks(execute=True):
        assert media_unattached_purge(now=T0 + timedelta(hours=24, minutes=1)) == 1
    assert set(MediaAttachment.objects.values_list("pk", flat=True)) == {
        kept_attached.pk,
        young.pk,
    }
    assert not default_storage.exists(old.file)
    assert media_unattached_purge(now=T0 + timedelta(hours=24, minutes=1)) == 0

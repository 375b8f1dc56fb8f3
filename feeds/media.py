"""Images on posts: uploading, describing, attaching, deleting and purging them.

An upload is validated and re-encoded by ``core.images`` (the one validator, shared with
profile images): the real format is read (JPEG, PNG, WebP, GIF first frame), decompression
bombs and oversize files are refused, the pixels are turned upright and re-encoded without
metadata (no EXIF, so no GPS location), resized to ``MEDIA_IMAGE_MAX_SIDE`` with a
``MEDIA_THUMBNAIL_SIDE`` preview and a blurhash. Files go through Django's storage API.

An upload belongs to its owner until it is attached to one of their posts
(``media_attach``, inside ``post_create``'s transaction); a post's files are deleted after
the post's deletion commits, and uploads never attached are purged after
``MEDIA_UNATTACHED_HOURS`` (``feeds.tasks``).
"""

import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import blurhash
import numpy
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image

from accounts.models import User
from accounts.profiles import text_is_clean
from core.images import image_encode, image_open, image_upright

from .models import MediaAttachment, Post

FOLDER = "post-media"
BLURHASH_SAMPLE = 32  # px: the blurhash is computed on a tiny copy (it only keeps 4×3 terms)


@dataclass(frozen=True)
class PreparedImage:
    """An upload validated and re-encoded in memory, not stored yet."""

    data: bytes
    width: int
    height: int
    thumbnail: bytes
    thumbnail_width: int
    thumbnail_height: int
    extension: str
    blurhash: str


def _scaled(image: Image.Image, side: int) -> Image.Image:
    """A copy no longer than ``side`` on its long side (never enlarged)."""
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    return copy


def _blurhash(image: Image.Image) -> str:
    sample = _scaled(image, BLURHASH_SAMPLE).convert("RGB")
    width, height = sample.size
    x_components = 4 if width >= height else 3  # more terms along the longer side
    return blurhash.encode(
        numpy.asarray(sample), components_x=x_components, components_y=7 - x_components
    )


def media_image_prepare(*, upload) -> PreparedImage:
    """Validate and re-encode an upload (``ImageRefused``: 413 too large, 422 not an image)."""
    image = image_open(upload, max_bytes=settings.MEDIA_IMAGE_MAX_BYTES)
    upright, has_alpha = image_upright(image)
    full = _scaled(upright, settings.MEDIA_IMAGE_MAX_SIDE)
    small = _scaled(full, settings.MEDIA_THUMBNAIL_SIDE)
    data, extension = image_encode(full, has_alpha=has_alpha)
    thumbnail, _ = image_encode(small, has_alpha=has_alpha)
    return PreparedImage(
        data=data,
        width=full.width,
        height=full.height,
        thumbnail=thumbnail,
        thumbnail_width=small.width,
        thumbnail_height=small.height,
        extension=extension,
        blurhash=_blurhash(small),
    )


def media_description_clean(description: object) -> str:
    """Alt text as stored, or ValidationError: a string of at most 1,500 characters."""
    if description is None:
        return ""
    if not isinstance(description, str):
        raise ValidationError("description: the alt text must be a string.")
    if not text_is_clean(description):
        raise ValidationError(
            "description: control characters (such as NUL) cannot be saved; remove them."
        )
    limit = MediaAttachment.DESCRIPTION_MAX
    # Counted as sent (as the API schema's maxLength does), then trimmed.
    if len(description) > limit:
        raise ValidationError(
            f"description: alt text can be at most {limit:,} characters; this one has "
            f"{len(description):,}."
        )
    return description.strip()


def media_focus_parse(focus: object) -> tuple[float, float]:
    """Mastodon's focal point "x,y" (each from -1.0 to 1.0), or ValidationError."""
    message = "focus: give two numbers from -1.0 to 1.0 as x,y (e.g. 0.0,0.5)."
    if not isinstance(focus, str):
        raise ValidationError(message)
    parts = focus.split(",")
    if len(parts) != 2:
        raise ValidationError(message)
    try:
        x, y = (float(part) for part in parts)
    except ValueError as exc:
        raise ValidationError(message) from exc
    if not all(math.isfinite(value) and -1.0 <= value <= 1.0 for value in (x, y)):
        raise ValidationError(message)
    return x, y


def media_files_delete(names: Iterable[str]) -> None:
    """Remove stored files (missing ones are fine)."""
    for name in names:
        if name:
            default_storage.delete(name)


def media_store(
    *,
    owner: User,
    prepared: PreparedImage,
    description: str = "",
    focus: tuple[float, float] = (0.0, 0.0),
) -> MediaAttachment:
    """Store a prepared image and its preview, and record it as the owner's upload.

    ``description`` must already be clean (``media_description_clean``). If recording fails
    the stored files are deleted again, so nothing is left half-way.
    """
    stem = f"{FOLDER}/{secrets.token_urlsafe(16)}"
    stored: list[str] = []
    try:
        stored.append(
            default_storage.save(f"{stem}.{prepared.extension}", ContentFile(prepared.data))
        )
        stored.append(
            default_storage.save(
                f"{stem}.small.{prepared.extension}", ContentFile(prepared.thumbnail)
            )
        )
        return MediaAttachment.objects.create(
            owner=owner,
            description=description,
            focus_x=focus[0],
            focus_y=focus[1],
            file=stored[0],
            width=prepared.width,
            height=prepared.height,
            thumbnail=stored[1],
            thumbnail_width=prepared.thumbnail_width,
            thumbnail_height=prepared.thumbnail_height,
            blurhash=prepared.blurhash,
        )
    except Exception:
        media_files_delete(stored)
        raise


def media_create(
    *, owner: User, upload, description: object = None, focus: object = None
) -> MediaAttachment:
    """Upload an image for a later post (``POST /api/v2/media``): validated, re-encoded,
    stored, owned by ``owner`` and attached to nothing yet."""
    clean = media_description_clean(description)
    point = media_focus_parse(focus) if focus not in (None, "") else (0.0, 0.0)
    prepared = media_image_prepare(upload=upload)
    return media_store(owner=owner, prepared=prepared, description=clean, focus=point)


def media_update(
    *, media: MediaAttachment, description: object = None, focus: object = None
) -> MediaAttachment:
    """Change an upload's alt text or focal point before it is posted (None: unchanged)."""
    fields = []
    if description is not None:
        media.description = media_description_clean(description)
        fields.append("description")
    if focus not in (None, ""):
        media.focus_x, media.focus_y = media_focus_parse(focus)
        fields += ["focus_x", "focus_y"]
    if fields:
        media.save(update_fields=fields)
    return media


def media_ids_parse(raw: object) -> list[int]:
    """``media_ids`` as sent (a list of id strings or numbers), or ValidationError."""
    if raw in (None, ""):
        return []
    values = raw if isinstance(raw, list) else [raw]
    limit = settings.MEDIA_PER_POST
    if len(values) > limit:
        raise ValidationError(f"media_ids: a post can carry at most {limit} images.")
    ids = []
    for value in values:
        text = str(value).strip() if isinstance(value, str | int) else ""
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise ValidationError(f"media_ids: {str(value)[:20]!r} is not a media id.")
        ids.append(int(text))
    if len(set(ids)) != len(ids):
        raise ValidationError("media_ids: the same image is listed twice.")
    return ids


def media_attach(*, post: Post, owner: User, media_ids: Sequence[int]) -> list[MediaAttachment]:
    """Attach the owner's unattached uploads to ``post`` in the given order.

    Runs inside the post's transaction: the rows are locked, so two posts racing for one
    upload cannot both take it, and a refusal (someone else's, already attached, unknown,
    too many) rolls the whole post back.
    """
    if not media_ids:
        return []
    limit = settings.MEDIA_PER_POST
    if len(media_ids) > limit:
        raise ValidationError(f"media_ids: a post can carry at most {limit} images.")
    rows = MediaAttachment.objects.select_for_update().in_bulk(list(media_ids))
    for media_id in media_ids:
        media = rows.get(media_id)
        if media is None or media.owner_id != owner.pk:
            raise ValidationError(
                f"media_ids: there is no upload {media_id} of yours; upload the image first "
                "(POST /api/v2/media)."
            )
        if media.post_id is not None:
            raise ValidationError(
                f"media_ids: the image {media_id} is already attached to a post; upload it "
                "again to post it twice."
            )
    attached = []
    for position, media_id in enumerate(media_ids):
        media = rows[media_id]
        media.post, media.position = post, position
        attached.append(media)
    MediaAttachment.objects.bulk_update(attached, ["post", "position"])
    return attached


def media_files_of_posts(post_ids: Iterable[int]) -> list[str]:
    """Every stored file of the posts' images (to delete once the posts are gone)."""
    names = []
    for file, thumbnail in MediaAttachment.objects.filter(post_id__in=list(post_ids)).values_list(
        "file", "thumbnail"
    ):
        names += [file, thumbnail]
    return names


def media_delete(*, media: MediaAttachment) -> None:
    """Delete an upload not yet posted, and its files after commit."""
    names = [media.file, media.thumbnail]
    with transaction.atomic():
        media.delete()
        transaction.on_commit(lambda: media_files_delete(names), robust=True)


def media_unattached_purge(*, now: datetime | None = None) -> int:
    """Delete uploads never attached to a post within ``MEDIA_UNATTACHED_HOURS``, and their
    files after commit. Idempotent; returns how many went."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.MEDIA_UNATTACHED_HOURS)
    with transaction.atomic():
        stale = MediaAttachment.objects.select_for_update().filter(
            post__isnull=True, created_at__lt=cutoff
        )
        rows = list(stale.values_list("pk", "file", "thumbnail"))
        MediaAttachment.objects.filter(pk__in=[pk for pk, _, _ in rows], post__isnull=True).delete()
        names = [name for _, file, thumbnail in rows for name in (file, thumbnail)]
        transaction.on_commit(lambda: media_files_delete(names), robust=True)
    return len(rows)

"""Profile images (avatar and header): validated with Pillow, re-encoded, stored.

An upload is read for what it really is, not what its name or content type claim: only
JPEG, PNG, WebP and GIF (first frame) are accepted. Files over ``PROFILE_IMAGE_MAX_BYTES``
and images over ``IMAGE_MAX_PIXELS`` (decompression bombs: a small file that inflates to
gigabytes) are refused before decoding. The image is turned upright by its EXIF orientation,
cropped to its shape, resized and re-encoded as PNG or JPEG without any metadata, so EXIF
(camera, GPS location) never leaves the server. The validation and re-encoding are
``core.images``'s, shared with images on posts (``feeds.media``). Files go through Django's
storage API: local files on the embedded default, any other storage backend when configured.
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps

from core.images import ImageRefused, image_encode, image_open, image_upright

__all__ = ["AVATAR", "HEADER", "SHAPES", "ImageRefused", "image_fit", "profile_image_store"]


@dataclass(frozen=True)
class ImageShape:
    """What a kind of profile image becomes: its folder and exact size in pixels."""

    folder: str
    width: int
    height: int


AVATAR = ImageShape("avatars", 400, 400)
HEADER = ImageShape("headers", 1500, 500)
SHAPES = {"avatar": AVATAR, "header": HEADER}


def image_fit(image: Image.Image, shape: ImageShape) -> tuple[bytes, str]:
    """The image upright, cropped and resized to ``shape``, re-encoded without metadata.

    Returns the bytes and the file extension (PNG keeps transparency; others become JPEG).
    """
    upright, has_alpha = image_upright(image)
    fitted = ImageOps.fit(upright, (shape.width, shape.height), Image.Resampling.LANCZOS)
    return image_encode(fitted, has_alpha=has_alpha)


def profile_image_store(*, upload, kind: str) -> str:
    """Validate, re-encode and store an avatar or header upload; its storage name."""
    shape = SHAPES[kind]
    image = image_open(upload, max_bytes=settings.PROFILE_IMAGE_MAX_BYTES)
    data, extension = image_fit(image, shape)
    name = f"{shape.folder}/{secrets.token_urlsafe(16)}.{extension}"
    return default_storage.save(name, ContentFile(data))


def profile_image_delete(name: str) -> None:
    """Remove a replaced image from storage (missing files are fine)."""
    if name:
        default_storage.delete(name)

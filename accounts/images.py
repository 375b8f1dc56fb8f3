"""Profile images (avatar and header): validated with Pillow, re-encoded, stored.

An upload is read for what it really is, not what its name or content type claim: only
JPEG, PNG, WebP and GIF (first frame) are accepted. Files over ``PROFILE_IMAGE_MAX_BYTES``
and images over ``IMAGE_MAX_PIXELS`` (decompression bombs: a small file that inflates to
gigabytes) are refused before decoding. The image is turned upright by its EXIF orientation,
cropped to its shape, resized and re-encoded as PNG or JPEG without any metadata, so EXIF
(camera, GPS location) never leaves the server. Files go through Django's storage API: local
files on the embedded default, any other storage backend when configured.
"""

import io
import secrets
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


@dataclass(frozen=True)
class ImageShape:
    """What a kind of profile image becomes: its folder and exact size in pixels."""

    folder: str
    width: int
    height: int


AVATAR = ImageShape("avatars", 400, 400)
HEADER = ImageShape("headers", 1500, 500)
SHAPES = {"avatar": AVATAR, "header": HEADER}


class ImageRefused(ValidationError):
    """The upload is not an image we take; ``status`` says which 4xx (413 or 422)."""

    def __init__(self, message: str, *, status: int = 422, code: str = "invalid_image"):
        super().__init__(message, code=code)
        self.status = status


def image_open(upload) -> Image.Image:
    """The decoded first frame of an upload, or ``ImageRefused`` saying what is wrong."""
    limit = settings.PROFILE_IMAGE_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is None or size > limit:
        raise ImageRefused(
            f"The image is too large: at most {limit // (1024 * 1024)} MB.",
            status=413,
            code="image_too_large",
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ImageRefused(
            f"The image is too large: at most {limit // (1024 * 1024)} MB.",
            status=413,
            code="image_too_large",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ImageRefused("Upload a JPEG, PNG, WebP or GIF image.")
            width, height = image.size
            if width * height > settings.IMAGE_MAX_PIXELS:
                raise ImageRefused(
                    f"The image has too many pixels ({width}×{height}); use a smaller one.",
                    status=413,
                    code="image_too_large",
                )
            image.seek(0)  # a GIF's first frame
            image.load()
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(
            "The image has too many pixels; use a smaller one.", status=413, code="image_too_large"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRefused(
            "That file is not an image we can read: upload a JPEG, PNG, WebP or GIF."
        ) from exc
    return image


def image_fit(image: Image.Image, shape: ImageShape) -> tuple[bytes, str]:
    """The image upright, cropped and resized to ``shape``, re-encoded without metadata.

    Returns the bytes and the file extension (PNG keeps transparency; others become JPEG).
    """
    upright = ImageOps.exif_transpose(image)
    has_alpha = upright.mode in ("RGBA", "LA") or "transparency" in upright.info
    upright = upright.convert("RGBA" if has_alpha else "RGB")
    fitted = ImageOps.fit(upright, (shape.width, shape.height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if has_alpha:
        fitted.save(out, format="PNG", optimize=True)
        return out.getvalue(), "png"
    fitted.save(out, format="JPEG", quality=88, optimize=True)
    return out.getvalue(), "jpg"


def profile_image_store(*, upload, kind: str) -> str:
    """Validate, re-encode and store an avatar or header upload; its storage name."""
    shape = SHAPES[kind]
    data, extension = image_fit(image_open(upload), shape)
    name = f"{shape.folder}/{secrets.token_urlsafe(16)}.{extension}"
    return default_storage.save(name, ContentFile(data))


def profile_image_delete(name: str) -> None:
    """Remove a replaced image from storage (missing files are fine)."""
    if name:
        default_storage.delete(name)

"""Uploaded images, read for what they really are: the one validator of profile images
(``accounts.images``) and images on posts (``feeds.media``).

An upload is read for what it is, not what its name or content type claim: only JPEG, PNG,
WebP and GIF (first frame) are accepted. Files over the caller's byte limit and images over
``IMAGE_MAX_PIXELS`` (decompression bombs: a small file that inflates to gigabytes) are
refused before decoding. What is kept is re-encoded from the pixels alone (PNG when it has
transparency, JPEG otherwise), upright by its EXIF orientation, so no metadata (camera, GPS
location) ever leaves the server.
"""

import io
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


class ImageRefused(ValidationError):
    """The upload is not an image we take; ``status`` says which 4xx (413 or 422)."""

    def __init__(self, message: str, *, status: int = 422, code: str = "invalid_image"):
        super().__init__(message, code=code)
        self.status = status


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB"


def _too_large(limit: int) -> ImageRefused:
    return ImageRefused(
        f"The image is too large: at most {_megabytes(limit)}.", status=413, code="image_too_large"
    )


def image_open(upload, *, max_bytes: int) -> Image.Image:
    """The decoded first frame of an upload, or ``ImageRefused`` saying what is wrong."""
    size = getattr(upload, "size", None)
    if size is None or size > max_bytes:
        raise _too_large(max_bytes)
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        raise ImageRefused("The file is empty: upload a JPEG, PNG, WebP or GIF image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ImageRefused("Upload a JPEG, PNG, WebP or GIF image.")
            width, height = image.size
            if width < 1 or height < 1:
                raise ImageRefused("The image has no pixels; upload another one.")
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
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRefused(
            "That file is not an image we can read: upload a JPEG, PNG, WebP or GIF."
        ) from exc
    return image


def image_upright(image: Image.Image) -> tuple[Image.Image, bool]:
    """The pixels turned by their EXIF orientation, as RGB (or RGBA when the image has
    transparency, which is returned as the second value). CMYK and palette images become
    RGB here, so every encoder below sees the same two modes."""
    try:
        upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError):  # a broken EXIF block: keep the pixels as sent
        upright = image
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    pixels = upright.convert("RGBA" if has_alpha else "RGB")
    # convert() copies ``info`` (EXIF, XMP, ICC, text chunks), and the PNG encoder writes
    # some of it back: keep the pixels only.
    pixels.info = {}
    return pixels, has_alpha


def image_encode(image: Image.Image, *, has_alpha: bool) -> tuple[bytes, str]:
    """The pixels re-encoded without metadata: PNG keeps transparency, others become JPEG.
    Returns the bytes and the file extension."""
    out = io.BytesIO()
    if has_alpha:
        image.save(out, format="PNG", optimize=True)
        return out.getvalue(), "png"
    image.save(out, format="JPEG", quality=88, optimize=True)
    return out.getvalue(), "jpg"

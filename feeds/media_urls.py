"""Signed, expiring URLs of images on posts: an image is part of its post's read.

A URL is handed out only with a post that passed the read gate (a timeline, a post page, a
status entity) or, for an upload not yet posted, to its owner. It names the image, the
variant (``original`` or ``small``) and an expiry, signed with ``SECRET_KEY`` (Django's
``Signer``, salted for this use), so a scraper cannot walk image ids outside the gate.

The expiry is rounded up to the end of the *next* bucket of ``MEDIA_URL_BUCKET_SECONDS``
(an hour by default): every URL of one image is the same for a whole bucket, so pages and
cached status JSON stay byte-for-byte stable, and each is valid for one to two buckets.
"""

import functools
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .models import MediaAttachment

VARIANTS = ("original", "small")
SALT = "feeds.media_urls"


def media_url_expiry(now: datetime | None = None) -> int:
    """The Unix time URLs made ``now`` expire at: the end of the next bucket."""
    moment = int((now or timezone.now()).timestamp())
    bucket = settings.MEDIA_URL_BUCKET_SECONDS
    return (moment // bucket + 2) * bucket


def _signature(media_id: int, variant: str, expires: int) -> str:
    return signing.Signer(salt=SALT).signature(f"{media_id}:{variant}:{expires}")


def _extension(attachment: MediaAttachment, variant: str) -> str:
    name = attachment.file if variant == "original" else attachment.thumbnail
    return name.rpartition(".")[2]


_MARKS = {
    "media_id": 4242424242,
    "expires": 5353535353,
    "signature": "SIGMARK",
    "filename": "FILEMARK",
}


@functools.lru_cache(maxsize=8)
def _path_template(urlconf: str, script_prefix: str) -> str:
    """The route reversed once per URLconf: reverse() per image was three quarters of
    making a URL (73 of 99 µs), and a page can carry 160 of them."""
    path = reverse("media_file", kwargs=_MARKS)
    for name, mark in _MARKS.items():
        path = path.replace(str(mark), "{" + name + "}")
    return path


def media_url(attachment: MediaAttachment, variant: str, now: datetime | None = None) -> str:
    """The signed path of one variant of an image (relative: callers make it absolute)."""
    expires = media_url_expiry(now)
    template = _path_template(str(settings.ROOT_URLCONF), get_script_prefix())
    return template.format(
        media_id=attachment.pk,
        expires=expires,
        signature=_signature(attachment.pk, variant, expires),
        filename=f"{variant}.{_extension(attachment, variant)}",
    )


def media_url_verify(
    *, media_id: int, variant: str, expires: int, signature: str, now: datetime | None = None
) -> str | None:
    """Why a signed URL is refused ("forged" or "expired"), or None when it is good."""
    if not constant_time_compare(signature, _signature(media_id, variant, expires)):
        return "forged"
    if (now or timezone.now()).timestamp() >= expires:
        return "expired"
    return None

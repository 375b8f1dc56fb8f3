"""Serving images on posts by their signed URLs (``feeds.media_urls``).

The post's read was charged when the URL was delivered (with the post, through the gate), so
this view charges nothing; it checks instead that the URL is genuine and unexpired (403
otherwise), that the image's post is still visible (``Post.objects.visible()``: a deleted
post or a suspended author's is 404), and that an upload not yet posted is asked for by its
owner (session or bearer token). Responses are private to the reader and cached no longer
than the URL lives; with ``MEDIA_X_ACCEL_PREFIX`` set the file is handed off to nginx.
"""

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from access.content_usage import ContentUsage, content_usage_headers
from accounts.ai_training import ai_training_allowed
from accounts.selectors import token_authenticate
from core.images import CONTENT_TYPES

from .media_urls import VARIANTS, media_url_verify
from .models import MediaAttachment, Post

REFUSALS = {
    "forged": "This image link is not valid. Open the post again to see its images.",
    "expired": "This image link has expired. Reload the post to see its images.",
}


def _requester_id(request) -> int | None:
    """Who is asking: the logged-in person, or the owner of a bearer token (API clients)."""
    if request.user.is_authenticated:
        return request.user.pk
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token_authenticate(raw=raw.strip())
    return token.user_id if token is not None else None


def _servable(request, media_id: int) -> MediaAttachment:
    media = MediaAttachment.objects.filter(pk=media_id).first()
    if media is None:
        raise Http404("No such image.")
    if media.post_id is None:
        if _requester_id(request) != media.owner_id:
            raise Http404("No such image.")
    elif not Post.objects.visible().filter(pk=media.post_id).exists():
        raise Http404("No such image.")
    return media


@require_safe
def media_file(request, media_id: int, expires: int, signature: str, filename: str):
    """One variant (``original.jpg``, ``small.png``, …) of an image, or 403/404."""
    variant, _, extension = filename.partition(".")
    if variant not in VARIANTS or extension not in CONTENT_TYPES:
        raise Http404("No such image.")
    now = timezone.now()
    refusal = media_url_verify(
        media_id=media_id, variant=variant, expires=expires, signature=signature, now=now
    )
    if refusal is not None:
        return render(request, "403.html", {"message": REFUSALS[refusal]}, status=403)
    media = _servable(request, media_id)
    name = media.file if variant == "original" else media.thumbnail
    if not name.endswith(f".{extension}"):
        raise Http404("No such image.")
    if settings.MEDIA_X_ACCEL_PREFIX:
        response = HttpResponse(content_type=CONTENT_TYPES[extension])
        response["X-Accel-Redirect"] = settings.MEDIA_X_ACCEL_PREFIX + name
    else:
        try:
            handle = default_storage.open(name, "rb")
        except (FileNotFoundError, OSError) as exc:
            raise Http404("No such image.") from exc
        response = FileResponse(handle, content_type=CONTENT_TYPES[extension])
    max_age = max(0, expires - int(now.timestamp()))
    # Private: the URL was one reader's; no shared cache may hand it to another.
    response["Cache-Control"] = f"private, max-age={max_age}"
    response["X-Content-Type-Options"] = "nosniff"
    # The author's AI-training choice, as on the post itself (the signals' vocabulary).
    usage = ContentUsage(train_ai=ai_training_allowed(media.owner), authors=1)
    for header, value in content_usage_headers(usage, request=request).items():
        response[header] = value
    return response

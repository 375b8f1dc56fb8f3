"""Media: uploading images for a later status (Mastodon's ``/api/v1/media``, ``/api/v2/media``),
describing them before posting, and dropping an upload never posted.

An upload belongs to the caller alone until it is attached with ``media_ids`` on
``POST /api/v1/statuses``; after that it is reached only through its status (Mastodon answers
404 for an attached one here, and so do we). Images are processed at once, so v2 answers 200
with the URLs filled in (Mastodon's 202 is for uploads still processing).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from core.images import ImageRefused
from feeds.media import media_create, media_delete, media_update
from feeds.models import MediaAttachment

from ..exceptions import PayloadTooLarge, Unprocessable
from ..params import path_id
from ..permissions import IsAuthenticatedMastodon, TokenHasScope
from ..schemas import (
    MediaAttachmentSerializer,
    MediaCreateSerializer,
    MediaUpdateSerializer,
    errors,
)
from .base import ApiView

AUTHENTICATED = [IsAuthenticatedMastodon, TokenHasScope]
TAGS = ["media"]


def _text_field(data, name: str):
    """A text field as sent (None when absent); a file or a list where text belongs is 422."""
    if not hasattr(data, "get") or name not in data:
        return None
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise Unprocessable(f"{name}: must be text.")
    return value


def own_upload_or_404(request, media_id: str) -> MediaAttachment:
    """The caller's upload not yet posted, or 404 (someone else's is not theirs to know of)."""
    media = MediaAttachment.objects.filter(
        pk=path_id(media_id), owner_id=request.user.pk, post__isnull=True
    ).first()
    if media is None:
        raise NotFound("Record not found")
    return media


class MediaCreateView(ApiView):
    """POST /api/v2/media and POST /api/v1/media: upload an image (multipart ``file``) with
    its alt text (``description``) and focal point (``focus``)."""

    required_scopes = {"POST": "write:media"}
    permission_classes = AUTHENTICATED
    parser_classes = [MultiPartParser]
    request_rate_groups = {"POST": ["media"]}

    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise Unprocessable("file: attach the image as a file (multipart/form-data).")
        data = request.data
        try:
            media = media_create(
                owner=request.user,
                upload=upload,
                description=_text_field(data, "description"),
                focus=_text_field(data, "focus"),
            )
        except ImageRefused as exc:
            if exc.status == 413:
                raise PayloadTooLarge(" ".join(exc.messages)) from exc
            raise Unprocessable(" ".join(exc.messages)) from exc
        return Response(self.entities().media_attachment(media))


def _create_schema(operation_id: str):
    return extend_schema(
        operation_id=operation_id,
        request={"multipart/form-data": MediaCreateSerializer},
        responses={200: MediaAttachmentSerializer, **errors(400, 401, 403, 413, 422, 429)},
        tags=TAGS,
    )


class MediaCreateV2View(MediaCreateView):
    """POST /api/v2/media (what current clients call)."""

    @_create_schema("media_create_v2")
    def post(self, request):
        return super().post(request)


class MediaCreateV1View(MediaCreateView):
    """POST /api/v1/media (deprecated by Mastodon, still called by older clients)."""

    @_create_schema("media_create_v1")
    def post(self, request):
        return super().post(request)


class MediaView(ApiView):
    """GET, PUT and DELETE /api/v1/media/:id: the caller's upload before it is posted."""

    required_scopes = {"GET": "write:media", "PUT": "write:media", "DELETE": "write:media"}
    permission_classes = AUTHENTICATED
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        operation_id="media_get",
        responses={200: MediaAttachmentSerializer, **errors(401, 403, 404, 429)},
        tags=TAGS,
    )
    def get(self, request, media_id):
        return Response(self.entities().media_attachment(own_upload_or_404(request, media_id)))

    @extend_schema(
        operation_id="media_update",
        request={
            "application/json": MediaUpdateSerializer,
            "application/x-www-form-urlencoded": MediaUpdateSerializer,
        },
        responses={200: MediaAttachmentSerializer, **errors(400, 401, 403, 404, 422, 429)},
        tags=TAGS,
    )
    def put(self, request, media_id):
        media = own_upload_or_404(request, media_id)
        data = request.data
        if not hasattr(data, "get"):
            raise Unprocessable("Send a JSON object or a form with description or focus.")
        try:
            media = media_update(
                media=media,
                description=_text_field(data, "description"),
                focus=_text_field(data, "focus"),
            )
        except DjangoValidationError as exc:
            raise Unprocessable(" ".join(exc.messages)) from exc
        return Response(self.entities().media_attachment(media))

    @extend_schema(
        operation_id="media_delete",
        request=None,
        responses={200: MediaAttachmentSerializer, **errors(401, 403, 404, 429)},
        tags=TAGS,
    )
    def delete(self, request, media_id):
        media = own_upload_or_404(request, media_id)
        data = self.entities().media_attachment(media)
        media_delete(media=media)
        return Response(data)

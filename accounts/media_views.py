"""Serving stored profile images from Django's storage (local files on the embedded default).

Only the folders profile images are written to are served, by names the app generated
(random, so not enumerable), with a long cache lifetime: a changed image gets a new name.
"""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from .images import SHAPES

SERVED_FOLDERS = {shape.folder for shape in SHAPES.values()}
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


@require_GET
def profile_media(request, folder: str, name: str):
    """One avatar or header file, or 404."""
    extension = name.rpartition(".")[2]
    if (
        folder not in SERVED_FOLDERS
        or extension not in CONTENT_TYPES
        or "/" in name
        or name.startswith(".")
    ):
        raise Http404("No such image.")
    path = f"{folder}/{name}"
    try:
        handle = default_storage.open(path, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("No such image.") from exc
    response = FileResponse(handle, content_type=CONTENT_TYPES[extension])
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response

"""The site's own address, for links that leave it (emails, payment provider return URLs)."""

from django.conf import settings


def absolute_url(path: str, request=None) -> str:
    """``path`` as a full URL: from the request when there is one, else from SITE_URL."""
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.SITE_URL.rstrip("/") + path

"""Background work of feeds: thin Celery shells around its services."""

from celery import shared_task

from .media import media_unattached_purge


@shared_task
def media_unattached_purge_task() -> int:
    """Delete uploads never attached to a post (``MEDIA_UNATTACHED_HOURS``) and their files."""
    return media_unattached_purge()

"""Keeps the text fingerprint index in step with the posts: a post saved with its text (created
or edited) is fingerprinted again; a deleted post's keys go with it (the foreign key cascades).
The work itself is ``fingerprints.post_fingerprint_write``; ``bulk_create`` sends no signal, so
bulk loaders call ``fingerprints.fingerprints_write`` (or ``leak_index_rebuild``)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from feeds.models import Post

from .fingerprints import post_fingerprint_write


@receiver(post_save, sender=Post, dispatch_uid="leaks_post_fingerprint")
def post_fingerprint_on_save(sender, instance: Post, created: bool, update_fields=None, **kwargs):
    """Fingerprint a post whose text may have changed (not on a counter-only save)."""
    if kwargs.get("raw") or (update_fields is not None and "text" not in update_fields):
        return
    post_fingerprint_write(
        post_id=instance.pk, text=instance.text, repost=instance.repost_of_id is not None
    )

"""What the leak tracer keeps beside the posts and the provenance so a trace stays fast at scale:
a text fingerprint index of every post, and a per-reader-day roll-up of delivery provenance.

Both are derived data, rebuilt from their source by ``python manage.py leak_index_rebuild``.
"""

from django.db import models

from feeds.models import Post


class PostFingerprint(models.Model):
    """One key of a post's text fingerprint (``leaks/fingerprints.py``): the hash of one
    8-character chunk of its normalised text, or of the whole normalised text. A dump item is
    looked up by the hashes of all its 8-character windows, so a post is a candidate when one
    of its chunks survived the dump's edits intact. Kept in sync with the post (written on
    create and edit by ``leaks.signals``, deleted with it by the foreign key)."""

    pk = models.CompositePrimaryKey("key", "post")
    key = models.BigIntegerField()
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+", db_constraint=True)

    class Meta:
        verbose_name = "post fingerprint key"

    def __str__(self) -> str:
        return f"{self.key} -> post {self.post_id}"


class ReaderDayVolume(models.Model):
    """How many posts one reader received on one UTC day, and in how many provenance rows: the
    roll-up of ``access.DeliveryProvenance`` that the significance step reads instead of the raw
    rows. Maintained by database triggers on the provenance table (migration
    ``leaks.0002_reader_day_rollup_triggers``): each inserted row adds to its reader-day, each
    row the retention purge deletes subtracts, in the same transaction, so the roll-up always
    equals the raw provenance (a row skipped as a duplicate ``record_id`` adds nothing)."""

    pk = models.CompositePrimaryKey("day", "reader")
    day = models.DateField()
    reader = models.CharField(max_length=64, help_text='"user:<id>" or "ip:<prefix>".')
    posts = models.BigIntegerField()
    rows = models.IntegerField()

    class Meta:
        verbose_name = "reader-day delivery volume"
        indexes = [
            # A suspect's volume over the window: reader first, then the days.
            models.Index(fields=["reader", "day"], name="readerday_reader_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.reader}: {self.posts} posts"

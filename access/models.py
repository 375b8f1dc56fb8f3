"""The database read ledger: who has read which posts on which UTC day."""

from django.db import models


class ReadDay(models.Model):
    """One reader's count of distinct posts read on one UTC day.

    The row is also the reader's lock: the database ledger locks it (``select_for_update``)
    for the whole gate call, so one reader's concurrent requests queue here and never
    overshoot the budget, while different readers never wait for each other.
    """

    principal = models.CharField(max_length=64, help_text='"user:<id>" or "ip:<prefix>".')
    day = models.DateField(help_text="The UTC day the reads count against.")
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "day"], name="readday_principal_day")
        ]
        # The purge task deletes whole past days.
        indexes = [models.Index(fields=["day"], name="readday_day")]

    def __str__(self) -> str:
        return f"{self.principal} {self.day:%Y-%m-%d}: {self.used}"


class ReadReceipt(models.Model):
    """One post charged to one reader on one UTC day: later re-reads that day are free.

    ``post_id`` is a plain integer, not a foreign key: a deleted post was still read.
    """

    principal = models.CharField(max_length=64)
    day = models.DateField()
    post_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "day", "post_id"], name="readreceipt_principal_day_post"
            )
        ]
        indexes = [models.Index(fields=["day"], name="readreceipt_day")]

    def __str__(self) -> str:
        return f"{self.principal} {self.day:%Y-%m-%d} read {self.post_id}"

"""One mailbox, one account: add ``User.email_canonical`` and fill it for existing accounts
(0006 then makes it unique where not blank: on PostgreSQL, schema changes after a data update in
one transaction fail with "pending trigger events", so they are two migrations).

Existing accounts that already share a mailbox ("a@x.com" and "a+1@x.com") keep working: the
oldest (lowest id) gets the canonical form, the later ones keep it blank, which the unique
constraint ignores. Their addresses, logins and mail are unchanged; the first change of such
an account's address fills it in (and is refused if the mailbox is taken). Admins find them
with ``User.objects.filter(email_canonical="")``.
"""

from django.db import migrations, models
from django.db.models import Min

from accounts.selectors import email_canonical

BATCH = 1000


def backfill(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    batch = []
    for user in User.objects.only("pk", "email").order_by("pk").iterator(chunk_size=BATCH):
        user.email_canonical = email_canonical(user.email)
        batch.append(user)
        if len(batch) >= BATCH:
            User.objects.bulk_update(batch, ["email_canonical"])
            batch = []
    if batch:
        User.objects.bulk_update(batch, ["email_canonical"])
    # Duplicates: every holder of a mailbox but its oldest account goes back to blank.
    oldest = User.objects.values("email_canonical").annotate(first=Min("pk")).values("first")
    User.objects.exclude(email_canonical="").exclude(pk__in=oldest).update(email_canonical="")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_seed_plan")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_canonical",
            field=models.CharField(
                blank=True, db_default="", default="", editable=False, max_length=320
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]

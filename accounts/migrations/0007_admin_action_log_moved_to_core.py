"""AdminActionLog moved to core/ (core 0001): dropped from this app's state only; the table stays."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_user_email_canonical_unique'),
        ('core', '0001_audit_records_from_access_and_accounts'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name='AdminActionLog')],
        ),
    ]

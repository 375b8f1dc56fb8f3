"""Plan, Subscription and PaymentWebhookEvent moved to verification/ (verification 0001):
dropped from this app's state only; the tables stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_admin_action_log_moved_to_core'),
        ('verification', '0001_billing_from_accounts'),
    ]

    operations = [
      migrations.SeparateDatabaseAndState(
        database_operations=[],
        state_operations=[
        migrations.DeleteModel(
            name='PaymentWebhookEvent',
        ),
        migrations.RemoveField(
            model_name='subscription',
            name='plan',
        ),
        migrations.RemoveField(
            model_name='subscription',
            name='user',
        ),
        migrations.DeleteModel(
            name='Plan',
        ),
        migrations.DeleteModel(
            name='Subscription',
        ),
            ],
      ),
    ]

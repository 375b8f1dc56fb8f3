"""verification takes over paid verification's models without touching their tables: Plan,
Subscription and PaymentWebhookEvent (accounts_plan, accounts_subscription,
accounts_paymentwebhookevent, created by accounts 0003 and seeded by accounts 0004).

State only (SeparateDatabaseAndState): tables, rows, indexes, constraints and sequences stay.
Their content types (and permissions) are relabelled to this app; accounts 0008 then drops the
models from its own state.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = ["plan", "subscription", "paymentwebhookevent"]


def _relabel(apps, *, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def content_types_to_verification(apps, schema_editor):
    _relabel(apps, source="accounts", target="verification")


def content_types_back(apps, schema_editor):
    _relabel(apps, source="verification", target="accounts")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        # The tables were created (and the plan seeded) there.
        ('accounts', '0006_user_email_canonical_unique'),
    ]

    operations = [
      migrations.SeparateDatabaseAndState(
        database_operations=[],
        state_operations=[
        migrations.CreateModel(
            name='Plan',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slug', models.SlugField(max_length=30, unique=True)),
                ('name', models.CharField(max_length=50)),
                ('price_minor', models.PositiveIntegerField(help_text='In minor units: 800 means $8.00.')),
                ('currency', models.CharField(default='usd', help_text='ISO 4217, lower case.', max_length=3)),
                ('interval', models.CharField(choices=[('month', 'Monthly'), ('year', 'Yearly')], default='month', max_length=10)),
                ('stripe_price_id', models.CharField(blank=True, help_text='Optional Stripe Price id (price_…).', max_length=100)),
                ('is_active', models.BooleanField(default=True, help_text='Offered at checkout.')),
            ],
            options={
                'db_table': 'accounts_plan',
                'ordering': ['price_minor', 'slug'],
            },
        ),
        migrations.CreateModel(
            name='PaymentWebhookEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider', models.CharField(max_length=20)),
                ('event_id', models.CharField(max_length=255)),
                ('event_type', models.CharField(max_length=100)),
                ('received_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'db_table': 'accounts_paymentwebhookevent',
                'constraints': [models.UniqueConstraint(fields=('provider', 'event_id'), name='webhook_event_unique')],
            },
        ),
        migrations.CreateModel(
            name='Subscription',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider', models.CharField(choices=[('dev', 'Dev (test mode)'), ('stripe', 'Stripe'), ('manual', 'Granted by an admin')], max_length=20)),
                ('status', models.CharField(choices=[('pending', 'Checkout started'), ('active', 'Active'), ('past_due', 'Past due (in grace period)'), ('lapsed', 'Lapsed (payment not received)'), ('ended', 'Ended'), ('checkout_canceled', 'Checkout cancelled'), ('declined', 'Payment declined'), ('revoked', 'Revoked by an admin')], default='pending', max_length=20)),
                ('checkout_ref', models.CharField(max_length=64, unique=True)),
                ('provider_checkout_id', models.CharField(blank=True, max_length=255)),
                ('provider_customer_id', models.CharField(blank=True, max_length=255)),
                ('provider_subscription_id', models.CharField(blank=True, db_index=True, max_length=255)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('current_period_end', models.DateTimeField(blank=True, null=True)),
                ('cancel_at_period_end', models.BooleanField(default=False)),
                ('grace_until', models.DateTimeField(blank=True, null=True)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('badge_on_hold', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('plan', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to='verification.plan')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='subscriptions', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'accounts_subscription',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['user', 'status'], name='subscription_user_status'), models.Index(fields=['status', 'current_period_end'], name='subscription_expiry'), models.Index(fields=['status', 'grace_until'], name='subscription_grace')],
            },
        ),
            ],
      ),
      migrations.RunPython(content_types_to_verification, content_types_back, elidable=True),
    ]

"""core takes over two models without touching their tables: SecurityEvent (table
access_securityevent, from access/) and AdminActionLog (accounts_adminactionlog, from accounts/).

State only (SeparateDatabaseAndState): the tables, their rows, indexes and sequences stay as
they are. The content types (and the permissions hanging off them) are relabelled, so admin
log entries and permission grants that name them keep pointing at the same rows.
access 0006 and accounts 0007 drop the models from their own state after this.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


MOVED = [("access", "securityevent"), ("accounts", "adminactionlog")]


def _relabel(apps, *, to_core: bool) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for old_label, model in MOVED:
        source, target = ("core", old_label) if not to_core else (old_label, "core")
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def content_types_to_core(apps, schema_editor):
    _relabel(apps, to_core=True)


def content_types_back(apps, schema_editor):
    _relabel(apps, to_core=False)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        # The tables were created there; they must exist before core claims them.
        ('access', '0005_security_event_password_email_kinds'),
        ('accounts', '0006_user_email_canonical_unique'),
    ]

    operations = [
      migrations.SeparateDatabaseAndState(
        database_operations=[],
        state_operations=[
        migrations.CreateModel(
            name='AdminActionLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(choices=[('tier_override', 'Tier override changed'), ('account_suspend', 'Account suspended'), ('tokens_revoke', 'Tokens revoked'), ('verification_grant', 'Verification granted'), ('verification_revoke', 'Verification revoked'), ('verification_badge_approve', 'Badge re-approved'), ('ip_block_add', 'IP prefix blocked'), ('ip_block_change', 'IP block changed'), ('ip_block_remove', 'IP block lifted'), ('flag_dismiss', 'Dismiss'), ('flag_restrict_tier', "Restrict the account's tier"), ('flag_suspend_account', 'Suspend the account'), ('flag_revoke_tokens', "Revoke the account's tokens"), ('flag_block_ip_prefix', 'Block the IP prefix'), ('access_log_export', 'Access log exported'), ('access_log_purge', 'Access log purged (retention)')], db_index=True, max_length=50)),
                ('target_object_id', models.CharField(blank=True, max_length=64)),
                ('target_repr', models.CharField(blank=True, max_length=200)),
                ('reason', models.TextField(blank=True)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(db_index=True)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('target_content_type', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='contenttypes.contenttype')),
            ],
            options={
                'db_table': 'accounts_adminactionlog',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['target_content_type', 'target_object_id'], name='adminlog_target')],
            },
        ),
        migrations.CreateModel(
            name='SecurityEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('kind', models.CharField(choices=[('login_succeeded', 'Log-in succeeded'), ('login_failed', 'Log-in failed'), ('token_created', 'Token created'), ('token_revoked', 'Token revoked'), ('tier_changed', 'Tier changed'), ('verification_changed', 'Verification changed'), ('password_changed', 'Password changed'), ('password_reset', 'Password reset by email link'), ('email_changed', 'Email address changed')], max_length=30)),
                ('username', models.CharField(blank=True, help_text='As typed, for failures.', max_length=150)),
                ('client_ip', models.GenericIPAddressField(blank=True, null=True)),
                ('user_agent', models.CharField(blank=True, max_length=300)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('user', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'access_securityevent',
                'indexes': [models.Index(fields=['created_at'], name='securityevent_created'), models.Index(fields=['user', 'created_at'], name='securityevent_user_created'), models.Index(fields=['kind', 'created_at'], name='securityevent_kind_created')],
            },
        ),
            ],
      ),
      migrations.RunPython(content_types_to_core, content_types_back, elidable=True),
    ]

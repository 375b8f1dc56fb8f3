"""On PostgreSQL, make the access log append-only: a trigger refuses UPDATE and DELETE on
access_accesslogentry unless the retention purge set its transaction-local flag
(``SET LOCAL microblog.access_log_purge = 'on'``, see access.services.access_log_purge).

SQLite has no such guard; there the app simply never updates or deletes records.
"""

from django.db import migrations

TABLE = "access_accesslogentry"

CREATE = f"""
CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND coalesce(current_setting('microblog.access_log_purge', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the access log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Only the retention purge (access_log_purge) may delete records.';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS access_log_append_only ON {TABLE};
CREATE TRIGGER access_log_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
"""

DROP = f"""
DROP TRIGGER IF EXISTS access_log_append_only ON {TABLE};
DROP FUNCTION IF EXISTS access_log_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0003_flags_and_ip_blocks"),
    ]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger),
    ]

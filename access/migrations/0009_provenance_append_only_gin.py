"""On PostgreSQL: delivery provenance is append-only (a trigger refuses UPDATE and DELETE
unless the retention purge set its transaction-local flag, ``microblog.provenance_purge``), and
a GIN index on ``post_ids`` answers "who received these posts" (``post_ids && ARRAY[…]``).

SQLite has neither; there the app never updates or deletes rows and the tracer filters in
Python (the embedded default is for demos, not for 90 days of a large site).
"""

from django.db import migrations

TABLE = "access_deliveryprovenance"

CREATE = f"""
CREATE OR REPLACE FUNCTION provenance_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND coalesce(current_setting('microblog.provenance_purge', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'delivery provenance is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Only the retention purge (provenance_purge) may delete rows.';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS provenance_append_only ON {TABLE};
CREATE TRIGGER provenance_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION provenance_append_only();

CREATE INDEX IF NOT EXISTS provenance_post_ids_gin ON {TABLE} USING gin (post_ids);
"""

DROP = f"""
DROP INDEX IF EXISTS provenance_post_ids_gin;
DROP TRIGGER IF EXISTS provenance_append_only ON {TABLE};
DROP FUNCTION IF EXISTS provenance_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0008_delivery_provenance"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]

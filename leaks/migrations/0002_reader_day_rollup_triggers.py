"""The per-reader-day roll-up of delivery provenance is kept by triggers on the provenance
table, so it is exact by construction: a row inserted adds its posts to its reader-day in the
same transaction (a duplicate ``record_id`` skipped by ``ON CONFLICT DO NOTHING`` fires
nothing), a row the retention purge deletes subtracts them. Existing provenance is rolled up
here; existing posts are fingerprinted (``leaks.fingerprints``).
"""

from django.db import migrations

PROVENANCE = "access_deliveryprovenance"
ROLLUP = "leaks_readerdayvolume"
READER_NEW = "CASE WHEN NEW.user_id IS NOT NULL THEN 'user:' || NEW.user_id ELSE 'ip:' || NEW.ip_prefix END"
READER_OLD = READER_NEW.replace("NEW.", "OLD.")
READER_ROW = READER_NEW.replace("NEW.", "")

ADD = f"""INSERT INTO {ROLLUP} (day, reader, posts, rows)
        VALUES (NEW.day, {READER_NEW}, NEW.post_count, 1)
        ON CONFLICT (day, reader) DO UPDATE
        SET posts = {ROLLUP}.posts + excluded.posts, rows = {ROLLUP}.rows + 1;"""
SUBTRACT = f"""UPDATE {ROLLUP} SET posts = posts - OLD.post_count, rows = rows - 1
        WHERE day = OLD.day AND reader = {READER_OLD};
        DELETE FROM {ROLLUP} WHERE day = OLD.day AND reader = {READER_OLD} AND rows <= 0;"""

POSTGRESQL_CREATE = [
    f"""CREATE OR REPLACE FUNCTION provenance_reader_day() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {ADD}
            RETURN NEW;
        END IF;
        {SUBTRACT}
        RETURN OLD;
    END;
    $$ LANGUAGE plpgsql""",
    f"DROP TRIGGER IF EXISTS provenance_reader_day ON {PROVENANCE}",
    f"""CREATE TRIGGER provenance_reader_day AFTER INSERT OR DELETE ON {PROVENANCE}
        FOR EACH ROW EXECUTE FUNCTION provenance_reader_day()""",
]
POSTGRESQL_DROP = [
    f"DROP TRIGGER IF EXISTS provenance_reader_day ON {PROVENANCE}",
    "DROP FUNCTION IF EXISTS provenance_reader_day()",
]
SQLITE_CREATE = [
    f"""CREATE TRIGGER IF NOT EXISTS provenance_reader_day_insert AFTER INSERT ON {PROVENANCE}
        BEGIN {ADD} END""",
    f"""CREATE TRIGGER IF NOT EXISTS provenance_reader_day_delete AFTER DELETE ON {PROVENANCE}
        BEGIN {SUBTRACT} END""",
    # SQLite has no append-only trigger on provenance; an update (the app makes none) moves
    # the row's posts from its old reader-day to its new one.
    f"""CREATE TRIGGER IF NOT EXISTS provenance_reader_day_update AFTER UPDATE ON {PROVENANCE}
        BEGIN {SUBTRACT} {ADD} END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS provenance_reader_day_insert",
    "DROP TRIGGER IF EXISTS provenance_reader_day_delete",
    "DROP TRIGGER IF EXISTS provenance_reader_day_update",
]
ROLL_UP_EXISTING = f"""INSERT INTO {ROLLUP} (day, reader, posts, rows)
    SELECT day, {READER_ROW}, sum(post_count), count(*) FROM {PROVENANCE}
    GROUP BY day, {READER_ROW}"""


def _statements(vendor: str, *, create: bool) -> list[str]:
    if vendor == "postgresql":
        return POSTGRESQL_CREATE if create else POSTGRESQL_DROP
    if vendor == "sqlite":
        return SQLITE_CREATE if create else SQLITE_DROP
    return []


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(f"DELETE FROM {ROLLUP}", params=None)
    for statement in _statements(vendor, create=True):
        schema_editor.execute(statement, params=None)
    schema_editor.execute(ROLL_UP_EXISTING, params=None)
    from leaks.fingerprints import fingerprints_rebuild

    fingerprints_rebuild(
        post_model=apps.get_model("feeds", "Post"),
        fingerprint_model=apps.get_model("leaks", "PostFingerprint"),
        using=schema_editor.connection.alias,
    )


def drop(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, create=False):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    atomic = True
    dependencies = [
        ("leaks", "0001_post_fingerprint_reader_day"),
        ("access", "0009_provenance_append_only_gin"),
    ]

    operations = [migrations.RunPython(create, drop)]

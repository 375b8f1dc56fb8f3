"""Full-text search over post text: a GIN expression index on PostgreSQL, an FTS5 table
kept in step by triggers on SQLite (``feeds.search``). Each engine gets only its own."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

PG_INDEX = GinIndex(SearchVector("text", config="simple"), name="post_text_search")

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE feeds_post_fts USING fts5("
    "text, content='feeds_post', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER feeds_post_fts_insert AFTER INSERT ON feeds_post BEGIN "
    "INSERT INTO feeds_post_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER feeds_post_fts_delete AFTER DELETE ON feeds_post BEGIN "
    "INSERT INTO feeds_post_fts(feeds_post_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER feeds_post_fts_update AFTER UPDATE OF text ON feeds_post BEGIN "
    "INSERT INTO feeds_post_fts(feeds_post_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO feeds_post_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO feeds_post_fts(feeds_post_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS feeds_post_fts_update",
    "DROP TRIGGER IF EXISTS feeds_post_fts_delete",
    "DROP TRIGGER IF EXISTS feeds_post_fts_insert",
    "DROP TABLE IF EXISTS feeds_post_fts",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.add_index(apps.get_model("feeds", "Post"), PG_INDEX)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("feeds", "Post"), PG_INDEX)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0002_mentions_tags_notifications_bookmarks")]

    operations = [migrations.RunPython(create, drop)]

"""Migrated on-disk SQLite databases for tests whose other processes (workers, servers) must
share one: the test database is in memory, which they cannot.

``manage.py migrate`` of a fresh file takes seconds (3 s of CPU, 7 s on a loaded 2-core
machine) and several modules need one, so the first caller migrates a template once per test
session and every caller gets a copy of it: the same schema and seeded rows, and the journal
mode (WAL) the file keeps in its header. The template is migrated on the embedded defaults
(no Redis, no broker), as every such caller's processes run.
"""

import atexit
import functools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@functools.cache
def _template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="microblog-test-sqlite-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "migrated.sqlite3"
    env = {**os.environ, "SQLITE_PATH": str(path), "DATABASE_URL": "", "REDIS_URL": ""}
    env.pop("CELERY_BROKER_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=300,
    )
    # Everything into the main file (and no -wal file left), so one file is the whole copy.
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


def sqlite_file_migrated(path: Path) -> Path:
    """Make ``path`` a freshly migrated SQLite database (a copy of the session's template)."""
    shutil.copyfile(_template(), path)
    return path

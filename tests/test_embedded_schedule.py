"""The embedded default runs its schedule (issue 12, item 9): with no broker, the serving
process runs the beat schedule (detectors, access-log drain, expiries, purges), once per
process and database, never in tests or other management commands, never twice under
runserver's autoreloader; with a broker it stays off (Celery beat does it)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from access.access_log_drain import access_log_drain
from access.models import AccessLogEntry, Flag
from microblog.embedded_schedule import EmbeddedScheduler, ScheduleEntry, schedule_entries
from tests.access.conftest import free_port
from tests.sqlite_files import sqlite_file_migrated

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SCRAPER_AGENT = "python-requests/2.32.3"


def _recording_scheduler(settings, state_path=None):
    ran: list[str] = []
    scheduler = EmbeddedScheduler(
        schedule_entries(settings.CELERY_BEAT_SCHEDULE),
        state_path=state_path,
        call=lambda entry: ran.append(entry.name),
    )
    return scheduler, ran


def test_the_schedule_runs_each_entry_on_its_interval(settings, tmp_path):
    """Ensures that, on a pinned clock, every beat entry runs at start and then each on its
    own interval (the drain every 5 s, the detectors every minute, expiries every 15 min,
    the log purge daily), as Celery beat would run them."""
    with time_machine.travel(T0, tick=False) as clock:
        scheduler, ran = _recording_scheduler(settings, tmp_path / "state.json")
        assert set(scheduler.run_pending()) == set(settings.CELERY_BEAT_SCHEDULE)
        ran.clear()
        clock.shift(timedelta(seconds=4))
        assert scheduler.run_pending() == []
        clock.shift(timedelta(seconds=1))
        assert scheduler.run_pending() == ["access-drain-access-log"]
        clock.shift(timedelta(seconds=55))
        assert set(scheduler.run_pending()) == {
            "access-detect-bulk-access",
            "access-drain-access-log",
        }
        clock.shift(timedelta(minutes=14))
        assert "accounts-expire-subscriptions" in scheduler.run_pending()
        assert "access-purge-access-log" not in ran
        clock.shift(timedelta(days=1))
        assert "access-purge-access-log" in scheduler.run_pending()


def test_a_restart_remembers_when_each_entry_last_ran(settings, tmp_path):
    """Ensures that a restarted server (runserver restarts on every code change) does not run
    the daily purge again: last runs are kept in the state file."""
    state = tmp_path / "state.json"
    with time_machine.travel(T0, tick=False) as clock:
        first, _ = _recording_scheduler(settings, state)
        first.run_pending()
        clock.shift(timedelta(minutes=2))
        again, _ = _recording_scheduler(settings, state)
        assert set(again.run_pending()) == {
            "access-detect-bulk-access",
            "access-drain-access-log",
        }


def test_a_failing_task_does_not_stop_the_others(tmp_path):
    """Ensures that a task that raises is logged and retried at its next interval, and the
    entries after it still run."""
    entries = [
        ScheduleEntry(name="broken", task="x", interval=10),
        ScheduleEntry(name="fine", task="y", interval=10),
    ]
    ran = []

    def call(entry):
        ran.append(entry.name)
        if entry.name == "broken":
            raise RuntimeError("boom")

    with time_machine.travel(T0, tick=False) as clock:
        scheduler = EmbeddedScheduler(entries, call=call)
        assert scheduler.run_pending() == ["broken", "fine"]
        clock.shift(timedelta(seconds=10))
        assert scheduler.run_pending() == ["broken", "fine"]
    assert ran == ["broken", "fine", "broken", "fine"]


@pytest.mark.django_db
def test_the_real_schedule_flags_a_scraper(client, settings):
    """Ensures that running the real tasks of the schedule (no command, no worker) turns a
    scraper's requests into a flag in the review queue."""
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            assert client.get("/public/", HTTP_USER_AGENT=SCRAPER_AGENT).status_code == 200
        access_log_drain(max_seconds=0)  # with the Redis ledger; the schedule drains it too
        assert AccessLogEntry.objects.count() == 3
        scheduler = EmbeddedScheduler(schedule_entries(settings.CELERY_BEAT_SCHEDULE))
        assert "access-detect-bulk-access" in scheduler.run_pending()
    flag = Flag.objects.get(rule="scraper_user_agent")
    assert flag.principal == "ip:127.0.0.1/32"


def _settings_value(expression: str, **env) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", expression],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]  # after shell's "objects imported" line


def test_it_runs_only_without_a_broker_and_not_in_management_commands():
    """Ensures that the schedule is on by default without a broker, off with one (Celery
    beat's job) or with EMBEDDED_SCHEDULER=0, and that a management command (here `shell`)
    never starts the thread even when it is on."""
    show = "from django.conf import settings; print(settings.EMBEDDED_SCHEDULER)"
    env = {"CELERY_BROKER_URL": "", "REDIS_URL": "", "EMBEDDED_SCHEDULER": ""}
    assert _settings_value(show, **env) == "True"
    assert _settings_value(show, **{**env, "EMBEDDED_SCHEDULER": "0"}) == "False"
    assert _settings_value(show, **{**env, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}) == (
        "False"
    )
    threads = "import threading; print(sorted(t.name for t in threading.enumerate()))"
    assert "embedded-schedule" not in _settings_value(threads, **env)


def _flag_count(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM access_flag WHERE rule = 'scraper_user_agent'"
        ).fetchone()[0]


@pytest.mark.embedded_only
def test_a_live_runserver_flags_a_scraper_by_itself(tmp_path):
    """Ensures that `runserver` (DEBUG on, no broker, its autoreloader on) flags a scraper
    with nobody running a command, and that only one process runs the schedule."""
    database = tmp_path / "demo.sqlite3"
    env = {
        **os.environ,
        "DEBUG": "1",
        "SQLITE_PATH": str(database),
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "DATABASE_URL": "",
        "EMBEDDED_SCHEDULER": "1",
        "ACCESS_DETECT_INTERVAL": "2",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    sqlite_file_migrated(database)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/public/", headers={"User-Agent": SCRAPER_AGENT}
                )
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    assert response.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)  # waiting for the server to listen, not timing it
        for _ in range(3):
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310
                pass
        deadline = time.monotonic() + 90
        while _flag_count(database) == 0:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)  # waiting for the schedule's next detector run
        state = database.with_name(database.name + ".schedule.json")
        while not state.exists():  # written as soon as the detector's entry has finished
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    started = [line for line in log.read_text().splitlines() if "embedded schedule started" in line]
    assert len(started) == 1, log.read_text()
    assert database.with_name(database.name + ".schedule.json").exists()


def test_every_beat_entry_names_a_task_the_embedded_schedule_can_call():
    """Ensures that each entry of the beat schedule resolves to a callable task in-process,
    including tasks that moved app but kept their Celery name (verification's expiry)."""
    from django.conf import settings

    from microblog.embedded_schedule import schedule_entries, task_resolve

    entries = schedule_entries(settings.CELERY_BEAT_SCHEDULE)
    assert entries
    for entry in entries:
        assert callable(task_resolve(entry.task)), entry.task

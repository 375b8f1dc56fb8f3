"""The embedded default's schedule: with no broker, the serving process runs the beat schedule.

With a broker (``CELERY_BROKER_URL``, or ``REDIS_URL``), Celery beat sends the tasks of
``CELERY_BEAT_SCHEDULE`` to workers. Without one (``make run``) nothing would run them: the
detectors never flagged anyone, expiries and purges never happened. So the WSGI/ASGI entry
points call ``embedded_schedule_start()``, which — when ``EMBEDDED_SCHEDULER`` is on and no
broker is configured — starts one daemon thread that runs the same schedule in-process, each
task called directly, one at a time.

- Only servers start it: ``runserver`` loads the WSGI application in its serving process
  only (never in the autoreloader's watcher), gunicorn in each worker. Tests and management
  commands never load it (the test suite also sets ``EMBEDDED_SCHEDULER=0``).
- One runner per machine and database: the thread holds an exclusive lock on
  ``EMBEDDED_SCHEDULER_STATE + ".lock"``; other processes (gunicorn's other workers, a
  second runserver on the same database) wait for it and take over if its holder dies.
- When each task last ran is kept in ``EMBEDDED_SCHEDULER_STATE`` (JSON, epoch seconds), so
  a restart (every code change under runserver) does not run the daily purge again.
- Interval schedules only (seconds or ``timedelta``, as ours all are); a crontab entry is
  logged and skipped.
"""

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils.module_loading import import_string

from .celery import app as celery_app

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0

_started: threading.Thread | None = None
_start_lock = threading.Lock()


@dataclass(frozen=True)
class ScheduleEntry:
    """One beat entry: run ``task`` (a dotted path) every ``interval`` seconds."""

    name: str
    task: str
    interval: float
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def _interval_seconds(schedule) -> float | None:
    if isinstance(schedule, int | float):
        return float(schedule)
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    run_every = getattr(schedule, "run_every", None)  # celery.schedules.schedule
    return run_every.total_seconds() if isinstance(run_every, timedelta) else None


def schedule_entries(beat_schedule: dict) -> list[ScheduleEntry]:
    """The interval entries of a ``CELERY_BEAT_SCHEDULE``, in its order."""
    entries = []
    for name, spec in beat_schedule.items():
        interval = _interval_seconds(spec["schedule"])
        if interval is None or interval <= 0:
            logger.warning("embedded schedule: %s is not an interval schedule; skipped", name)
            continue
        entries.append(
            ScheduleEntry(
                name=name,
                task=spec["task"],
                interval=interval,
                args=tuple(spec.get("args", ())),
                kwargs=dict(spec.get("kwargs", {})),
            )
        )
    return entries


def task_resolve(name: str):
    """The task a beat entry names. Beat names a task by its Celery name, which is not always
    its import path (a task that moved app keeps its name: ``accounts.tasks.
    subscriptions_expire_task`` lives in verification/), so ask Celery's registry first."""
    celery_app.loader.import_default_modules()  # every app's tasks module (autodiscovery)
    task = celery_app.tasks.get(name)
    return task if task is not None else import_string(name)


def _task_call(entry: ScheduleEntry) -> None:
    """Call the task's function in this thread (a Celery task object is callable)."""
    task_resolve(entry.task)(*entry.args, **entry.kwargs)


class EmbeddedScheduler:
    """Runs what is due of a schedule, remembering when each entry last ran.

    ``clock`` returns epoch seconds (``time.time``, which time-machine can pin in tests).
    An entry that never ran is due at once, as Celery beat does with a fresh schedule.
    """

    def __init__(
        self,
        entries: list[ScheduleEntry],
        *,
        state_path: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        call: Callable[[ScheduleEntry], None] = _task_call,
    ):
        self.entries = entries
        self.state_path = Path(state_path) if state_path else None
        self.clock = clock
        self.call = call
        self.last_run: dict[str, float] = self._state_load()

    def _state_load(self) -> dict[str, float]:
        if self.state_path is None or not self.state_path.exists():
            return {}
        try:
            raw = json.loads(self.state_path.read_text())
            return {str(name): float(at) for name, at in raw.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            logger.warning("embedded schedule: unreadable %s, starting afresh", self.state_path)
            return {}

    def _state_save(self) -> None:
        if self.state_path is None:
            return
        partial = self.state_path.with_name(self.state_path.name + ".tmp")
        try:
            partial.write_text(json.dumps(self.last_run))
            partial.replace(self.state_path)  # atomic: a crash never leaves half a file
        except OSError:
            logger.warning("embedded schedule: could not write %s", self.state_path)

    def due(self, now: float) -> list[ScheduleEntry]:
        return [
            entry
            for entry in self.entries
            if now - self.last_run.get(entry.name, float("-inf")) >= entry.interval
        ]

    def run_pending(self) -> list[str]:
        """Run every due entry once, in order; return their names. A failing task is logged
        and tried again at its next interval, as beat would."""
        ran = []
        for entry in self.due(self.clock()):
            try:
                self.call(entry)
            except Exception:
                logger.exception("embedded schedule: %s (%s) failed", entry.name, entry.task)
            self.last_run[entry.name] = self.clock()
            ran.append(entry.name)
            # Saved after each entry: a stop mid-batch never runs a finished entry again.
            self._state_save()
        if ran:
            logger.debug("embedded schedule ran %s", ", ".join(ran))
        return ran


def _lock_acquire(path: Path):
    """An exclusive, non-blocking lock on ``path`` (kept open while held), or None."""
    handle = open(path, "a+")  # noqa: SIM115 - held for the life of the thread
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _run_forever(scheduler: EmbeddedScheduler, lock_path: Path, stop: threading.Event) -> None:
    lock = None
    try:
        while not stop.is_set():
            if lock is None:
                lock = _lock_acquire(lock_path)
                if lock is not None:
                    logger.info("embedded schedule started in process %d", os.getpid())
            if lock is not None:
                close_old_connections()  # this thread's own connections, as a request would
                try:
                    scheduler.run_pending()
                finally:
                    close_old_connections()
            stop.wait(TICK_SECONDS)
    finally:
        connections.close_all()
        if lock is not None:
            lock.close()


def embedded_schedule_start() -> threading.Thread | None:
    """Start the schedule thread once per process, if this is the embedded default (no
    broker) and ``EMBEDDED_SCHEDULER`` is on; return it (None when it does not run here)."""
    global _started
    if not settings.EMBEDDED_SCHEDULER:
        return None
    with _start_lock:
        if _started is not None:
            return _started
        state_path = Path(settings.EMBEDDED_SCHEDULER_STATE)
        scheduler = EmbeddedScheduler(
            schedule_entries(settings.CELERY_BEAT_SCHEDULE), state_path=state_path
        )
        lock_path = state_path.with_name(state_path.name + ".lock")
        _started = threading.Thread(
            target=_run_forever,
            args=(scheduler, lock_path, threading.Event()),
            name="embedded-schedule",
            daemon=True,  # dies with the server; the lock is released with the process
        )
        _started.start()
        return _started

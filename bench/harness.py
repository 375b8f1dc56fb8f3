"""Pieces the benchmarks share: free ports, gunicorn servers, and wrk as the load generator.

Load always goes to 127.0.0.1, from a separate bounded process (wrk, fixed duration).
"""

import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(*, database: str, redis_db: int, **overrides: str) -> dict[str, str]:
    """The settings every benchmark server runs with, put into ``os.environ`` too: local
    PostgreSQL database ``database`` and Redis db ``redis_db`` unless ``DATABASE_URL`` /
    ``REDIS_URL`` say otherwise, production-like security settings for 127.0.0.1, and
    request-rate limits off (they would refuse the load itself; the read budget and the access
    log, which the benchmarks measure, stay on). ``overrides`` add or replace settings."""
    env = {
        "DATABASE_URL": os.environ.get("DATABASE_URL")
        or f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": os.environ.get("REDIS_URL") or f"redis://127.0.0.1:6379/{redis_db}",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key-" + "b" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "REQUEST_RATE_LIMITS_ENABLED": "0",
        # DEBUG is off and nothing is sold: the dev payment provider is allowed, as in a demo.
        "PAYMENTS_DEV_ALLOWED": "1",
        **overrides,
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "microblog.settings")
    return env


def database_ensure(url: str) -> None:
    """Create the PostgreSQL database of ``url`` if it does not exist yet."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


class Server:
    """A gunicorn server for the project on a free loopback port, with its own environment."""

    def __init__(self, name: str, env: dict[str, str], workers: int = 2, threads: int = 4):
        self.name = name
        self.port = free_port()
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
            [
                gunicorn, "microblog.wsgi", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--worker-class", "gthread",
                "--threads", str(self.threads), "--log-level", "warning",
                # A listening socket per worker (SO_REUSEPORT): the kernel spreads wrk's
                # connections over them, instead of the workers racing to accept them.
                "--reuse-port",
            ],
            cwd=ROOT,
            env=self.env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):  # noqa: S310
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn ({self.name}) did not start on port {self.port}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far: the master and
        its workers. On a shared machine this is steadier than wall-clock throughput, since
        another tenant's load slows the clock but not the work."""
        import psutil

        if self.process is None:
            return 0.0
        master = psutil.Process(self.process.pid)
        total = 0.0
        for process in [master, *master.children()]:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue  # a worker that ended while we looked
            total += times.user + times.system
        return total

    def connection_split(self) -> list[int]:
        """How many established connections to this server's port each worker holds, fewest
        first. A gthread worker keeps every kept-alive connection it accepted, and wrk opens
        all of its connections at the start, so which worker serves which is a race."""
        import psutil

        if self.process is None:
            return []
        counts = []
        for worker in psutil.Process(self.process.pid).children():
            try:
                sockets = worker.net_connections(kind="tcp")
            except psutil.Error:
                continue  # a worker that ended while we looked
            counts.append(
                sum(
                    1
                    for sock in sockets
                    if sock.status == psutil.CONN_ESTABLISHED
                    and sock.laddr
                    and sock.laddr.port == self.port
                )
            )
        return sorted(counts)

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds process ``pid`` has used (``/proc/<pid>/stat``, through
    psutil), or None when it is gone or not ours to read."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


class BackendsCpu:
    """CPU time used by the processes of a changing set — the PostgreSQL backends serving
    one database — between ``start()`` and ``stop()``.

    Backends come and go during a run (Django closes a connection older than
    ``CONN_MAX_AGE`` and the next request opens one), and a process's time vanishes from
    ``/proc`` with it, so the set is sampled every ``interval`` seconds while the run lasts:
    a pid seen at the start counts from its time then, one first seen later from zero (it
    was born in the run), and one that ends counts up to its last sample (at most
    ``interval`` of its work is missed). Only this database's backends: the cluster (and
    its postmaster's reaped-children times) is shared with other databases' clients."""

    def __init__(
        self,
        pids: Callable[[], Iterable[int]],
        *,
        cpu: Callable[[int], float | None] = process_cpu_seconds,
        interval: float = 0.2,
    ):
        self._pids, self._cpu, self.interval = pids, cpu, interval
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self, *, initial: bool = False) -> None:
        """Read every current pid's CPU time once (``initial``: the start's baselines)."""
        for pid in self._pids():
            seconds = self._cpu(pid)
            if seconds is None:
                continue  # ended between the listing and the read
            self._first.setdefault(pid, seconds if initial else 0.0)
            self._last[pid] = seconds

    def start(self) -> "BackendsCpu":
        self._first.clear()
        self._last.clear()
        self._stopping.clear()
        self.sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.sample()

    def stop(self) -> float:
        """Stop sampling; the CPU seconds the set used since ``start()``."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        return sum(self._last[pid] - first for pid, first in self._first.items())


def postgres_backends_cpu(database_url: str, *, interval: float = 0.2) -> BackendsCpu | None:
    """A ``BackendsCpu`` over the backends connected to ``database_url``'s database (from
    ``pg_stat_activity``, read on a connection to the ``postgres`` database, so the watcher's
    own backend is not among them); None when PostgreSQL runs on another machine."""
    import psycopg

    host = urllib.parse.urlsplit(database_url).hostname
    if host not in {None, "", "127.0.0.1", "localhost", "::1"}:
        return None  # its backends' /proc is on another machine
    name = database_url.rsplit("/", 1)[1]
    admin = psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True)
    lock = threading.Lock()  # the sampler thread and the caller share the connection

    def pids() -> list[int]:
        with lock:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchall()
        return [pid for (pid,) in rows]

    return BackendsCpu(pids, interval=interval)


class RedisCpu:
    """The Redis server's CPU (``INFO cpu``: ``used_cpu_user`` + ``used_cpu_sys``) between
    ``start()`` and ``stop()``. The whole server's: clients of other Redis databases on the
    same server are counted too."""

    def __init__(self, client):
        self._client = client
        self._before = 0.0

    def _seconds(self) -> float:
        info = self._client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def start(self) -> "RedisCpu":
        self._before = self._seconds()
        return self

    def stop(self) -> float:
        return self._seconds() - self._before


def machine_cpu_seconds(stat: str = "/proc/stat") -> tuple[float, float]:
    """Seconds every core of this machine has been busy (everything but idle and I/O wait)
    and stolen by the hypervisor, from ``stat``'s ``cpu`` line."""
    with open(stat) as lines:
        fields = [float(value) for value in lines.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0.0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy / ticks, steal / ticks


def children_cpu_seconds() -> float:
    """User + system seconds of this process's ended and waited-for children (wrk's runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int
    cpu_ms_per_request: float = float("nan")  # the server's CPU, when a server was given
    pg_cpu_ms_per_request: float = float("nan")  # its PostgreSQL backends', when watched
    redis_cpu_ms_per_request: float = float("nan")  # the Redis server's, when watched
    wrk_cpu_ms_per_request: float = float("nan")  # the load generator's own
    machine_busy_ms_per_request: float = float("nan")  # every core's busy time (any process)
    machine_steal_ms_per_request: float = float("nan")  # of which the hypervisor took
    connection_split: tuple[int, ...] = ()  # wrk's connections held by each worker, when seen
    attempts: int = 1  # runs started: a lopsided split is measured again (see load())
    discarded_requests: int = 0  # answered in the runs stopped for a lopsided split


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _per_request(seconds: float, requests: int) -> float:
    return seconds * 1000 / requests if requests else float("nan")


def wrk_path() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is missing: `apt-get install wrk` (make bench does this).")
    return path


def lopsided(split: list[int], connections: int) -> bool:
    """Whether one worker was left with too few of wrk's connections for the run to measure
    the server rather than the race: each of its workers should hold at least half its fair
    share (8 connections on 2 workers: 2/6 passes, 1/7 and 0/8 do not). With every
    connection on one worker, one core serves the whole run under the GIL: about half the
    req/s, the other core idle (docs/performance.md, "Why the rounds disagree")."""
    if len(split) < 2:
        return False
    return min(split) < connections // (2 * len(split))


SPLIT_ATTEMPTS = 4  # runs started before a lopsided split is measured anyway (and shown)
SPLIT_SETTLE_SECONDS = 0.5  # wrk opens its connections at the start; look after this


def load(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    seconds: int = 5,
    connections: int = 8,
    server: Server | None = None,
    postgres: BackendsCpu | None = None,
    redis: RedisCpu | None = None,
) -> LoadResult:
    """Drive ``url`` with wrk for a fixed time and parse its summary; with ``server``, also
    the server's CPU milliseconds per request over the run, and likewise with ``postgres``
    its database backends' and with ``redis`` the Redis server's; always wrk's own and the
    whole machine's (so what the other tenants took shows as the difference).

    With ``server``, which worker holds each of wrk's connections is looked at once they are
    open; a run whose split is ``lopsided`` is stopped and started again (fresh connections,
    a fresh race), up to ``SPLIT_ATTEMPTS`` runs, and the split is kept with the result."""
    command = [wrk_path(), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in (headers or {}).items():
        command[1:1] = ["-H", f"{name}: {value}"]
    discarded = 0
    for attempt in range(1, SPLIT_ATTEMPTS + 1):
        for meter in (postgres, redis):
            if meter is not None:
                meter.start()
        cpu_before = server.cpu_seconds() if server else 0.0
        machine_before, children_before = machine_cpu_seconds(), children_cpu_seconds()
        wrk = subprocess.Popen(  # noqa: S603 - fixed binary, our arguments
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        split: list[int] = []
        if server is not None:
            time.sleep(SPLIT_SETTLE_SECONDS)
            split = server.connection_split()
            if lopsided(split, connections) and attempt < SPLIT_ATTEMPTS:
                # wrk stops on SIGINT and prints what it did: those requests were served
                # (and metered, and logged), so the exactness check must count them.
                wrk.send_signal(signal.SIGINT)
                stopped, _ = wrk.communicate(timeout=30)
                answered = re.search(r"(\d+) requests in", stopped)
                discarded += int(answered.group(1)) if answered else 0
                for meter in (postgres, redis):
                    if meter is not None:
                        meter.stop()
                time.sleep(SPLIT_SETTLE_SECONDS)  # let the server drop the old connections
                continue
        try:
            output, error = wrk.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            wrk.kill()
            raise
        if wrk.returncode:
            raise subprocess.CalledProcessError(wrk.returncode, command, output, error)
        break
    machine_after, children_after = machine_cpu_seconds(), children_cpu_seconds()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"50%\s+(\S+)", output).group(1))
    p99 = _ms(re.search(r"99%\s+(\S+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    cpu = float("nan")
    if server is not None and total:
        # Requests in flight at the end are served but not counted: a slight overcount.
        cpu = (server.cpu_seconds() - cpu_before) * 1000 / total
    pg_cpu, redis_cpu = (
        _per_request(meter.stop(), total) if meter is not None else float("nan")
        for meter in (postgres, redis)
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    return LoadResult(
        rps, p50, p99, errors, total, cpu, pg_cpu, redis_cpu,
        wrk_cpu_ms_per_request=_per_request(children_after - children_before, total),
        machine_busy_ms_per_request=_per_request(machine_after[0] - machine_before[0], total),
        machine_steal_ms_per_request=_per_request(machine_after[1] - machine_before[1], total),
        connection_split=tuple(split),
        attempts=attempt,
        discarded_requests=discarded,
    )  # fmt: skip


def interleaved(pairs: dict[str, callable], rounds: int) -> dict[str, list[LoadResult]]:
    """Run each named measurement once per round, alternating the order between rounds so
    drift on a shared machine hits every side equally."""
    results: dict[str, list[LoadResult]] = {name: [] for name in pairs}
    names = list(pairs)
    for index in range(rounds):
        order = names if index % 2 == 0 else list(reversed(names))
        for name in order:
            results[name].append(pairs[name]())
    return results


def median(results: list[LoadResult], attribute: str) -> float:
    """The median over rounds, ignoring a round whose figure wrk did not print."""
    values = [getattr(result, attribute) for result in results]
    values = [value for value in values if value == value] or [float("nan")]  # drop NaN
    return statistics.median(values)

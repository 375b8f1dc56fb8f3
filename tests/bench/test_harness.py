"""The benchmark's CPU meters (bench/harness.py): what they count when processes come and go."""

import http.client
import os
import threading

import pytest

from bench.harness import BackendsCpu, RedisCpu, Server, lopsided, machine_cpu_seconds


class FakeBackends:
    """A set of processes and their CPU seconds that a test changes between samples."""

    def __init__(self, times: dict[int, float]):
        self.times = dict(times)

    def pids(self) -> list[int]:
        return list(self.times)

    def cpu(self, pid: int) -> float | None:
        return self.times.get(pid)


def test_backends_cpu_counts_the_work_done_in_the_run_only():
    """Ensures that a backend's time before the run is not counted, only what it used since."""
    backends = FakeBackends({10: 5.0, 11: 1.0})
    meter = BackendsCpu(backends.pids, cpu=backends.cpu, interval=3600)
    meter.start()
    backends.times[10] = 5.5
    backends.times[11] = 1.25
    assert meter.stop() == pytest.approx(0.75)


def test_backends_cpu_counts_a_backend_born_in_the_run_from_zero():
    """Ensures that a connection opened during the run counts all of its time."""
    backends = FakeBackends({10: 5.0})
    meter = BackendsCpu(backends.pids, cpu=backends.cpu, interval=3600)
    meter.start()
    backends.times[12] = 0.4
    assert meter.stop() == pytest.approx(0.4)


def test_backends_cpu_keeps_a_backend_that_ended_up_to_its_last_sample():
    """Ensures that a backend closed during the run (CONN_MAX_AGE) keeps the time sampled
    before it ended, whether it was there at the start or born in the run."""
    backends = FakeBackends({10: 5.0})
    meter = BackendsCpu(backends.pids, cpu=backends.cpu, interval=3600)
    meter.start()
    backends.times[10] = 6.0
    backends.times[13] = 0.3
    meter.sample()  # what the sampling thread does every interval
    del backends.times[10], backends.times[13]
    backends.times[14] = 0.2
    assert meter.stop() == pytest.approx(1.0 + 0.3 + 0.2)


def test_backends_cpu_skips_a_pid_that_ended_between_listing_and_reading():
    """Ensures that a pid listed but gone from /proc is ignored, not counted as zero time
    against its start."""
    backends = FakeBackends({10: 5.0})
    meter = BackendsCpu(lambda: [10, 99], cpu=backends.cpu, interval=3600)
    meter.start()
    backends.times[10] = 5.1
    assert meter.stop() == pytest.approx(0.1)


def test_backends_cpu_samples_while_the_run_lasts():
    """Ensures that the sampling thread reads the set during the run, so a backend that
    lived only between start and stop is still counted."""
    backends = FakeBackends({})
    meter = BackendsCpu(backends.pids, cpu=backends.cpu, interval=0.001)
    sampled = []
    enough = threading.Event()
    original = meter.sample

    def sample(**kwargs):
        original(**kwargs)
        sampled.append(kwargs)
        if len(sampled) == 3:
            backends.times[20] = 0.5  # born after the start…
        if len(sampled) == 6:
            backends.times.clear()  # …and gone before the stop
            enough.set()

    meter.sample = sample
    meter.start()
    assert enough.wait(timeout=10)
    assert meter.stop() == pytest.approx(0.5)


def test_redis_cpu_is_the_servers_user_and_system_time_between_start_and_stop():
    """Ensures that the Redis meter reads INFO cpu's user + system seconds, as a difference."""

    class FakeRedis:
        readings = iter([{"used_cpu_user": "1.5", "used_cpu_sys": "0.5"},
                         {"used_cpu_user": "1.75", "used_cpu_sys": "0.75"}])  # fmt: skip

        def info(self, section):
            assert section == "cpu"
            return next(self.readings)

    meter = RedisCpu(FakeRedis()).start()
    assert meter.stop() == pytest.approx(0.5)


def test_machine_cpu_is_every_cores_busy_time_and_the_hypervisors_steal(tmp_path):
    """Ensures that the machine meter counts user, nice, system, interrupts and steal as
    busy, idle and I/O wait as not, in seconds of the kernel's clock ticks."""
    ticks = os.sysconf("SC_CLK_TCK")
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text(
        f"cpu  {ticks * 3} {ticks} {ticks * 2} {ticks * 50} {ticks * 7} 0 {ticks} {ticks} 0 0\n"
        "cpu0 1 2 3 4 5 6 7 8 9 10\n"
    )
    assert machine_cpu_seconds(str(stat)) == pytest.approx((8.0, 1.0))


@pytest.mark.parametrize(
    ("split", "connections", "expected"),
    [
        ([4, 4], 8, False),
        ([3, 5], 8, False),
        ([2, 6], 8, False),  # each worker has at least half its share
        ([1, 7], 8, True),
        ([0, 8], 8, True),  # one core serves the run: the slow rounds
        ([8], 8, False),  # one worker: no race to lose
        ([], 8, False),  # not seen
        ([0, 32], 32, True),
        ([8, 24], 32, False),
    ],
)
def test_a_split_is_lopsided_when_a_worker_has_under_half_its_share(split, connections, expected):
    """Ensures that make bench measures again a run whose connections all but missed one of
    gunicorn's workers, and keeps the runs that shared them out roughly."""
    assert lopsided(split, connections) is expected


def test_connection_split_counts_each_workers_kept_alive_connections(tmp_path):
    """Ensures that the split make bench checks is read off the real workers: every
    kept-alive connection to the server is counted once, on the worker that holds it."""
    env = {"DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "REDIS_URL": ""}
    with Server("split", env, workers=2, threads=2) as server:
        connections = [http.client.HTTPConnection("127.0.0.1", server.port) for _ in range(6)]
        for connection in connections:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200  # and kept alive: HTTP/1.1, no Connection: close
        split = server.connection_split()
        for connection in connections:
            connection.close()
    assert len(split) == 2 and sum(split) == 6

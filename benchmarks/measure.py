"""How the benchmarks measure: wall clock, resident memory, medians, the raw-simpy yardstick.

The simulator's ceiling is raw simpy on the same machine (DESIGN.md, "Performance
rules"). Machines and their background load change from run to run, so every row of a
benchmark measures its yardstick again, just before itself, and reports the ratio of the
two: a burst of other work slows both sides of one ratio alike.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

import simpy

__all__ = [
    "Stopwatch",
    "interleaved",
    "median",
    "peak_rss_mib",
    "raw_pingpong",
    "raw_pingpong_rates",
    "reset_peak_rss",
    "rss_mib",
]

T = TypeVar("T")

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` field in KiB (Linux), or None where there is none."""
    try:
        with open(_STATUS) as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mib() -> float:
    """The resident set size of this process now, in MiB (0 where unknown)."""
    kib = _status_kib("VmRSS")
    return (kib or 0) / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS; False where Linux does not allow it."""
    try:
        with open(_CLEAR_REFS, "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def peak_rss_mib() -> float:
    """The peak resident set size since the last :func:`reset_peak_rss`, in MiB."""
    kib = _status_kib("VmHWM")
    if kib is None:
        import resource  # not on every platform; ru_maxrss is in KiB on Linux

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024


class Stopwatch:
    """Wall-clock and CPU seconds, and extra peak memory, of the code run inside ``with``.

    The CPU time of this process is reported beside the wall time: on a machine shared
    with other work the wall time includes waiting for a core, the CPU time does not.

    Before the block the garbage collector runs (so that the previous measurement's
    garbage is not counted) and the peak-RSS mark is reset; ``extra_rss_mib`` is the
    peak during the block minus the resident size at its start.
    """

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self.start_rss_mib = 0.0
        self.peak_rss_mib = 0.0
        self._started = 0.0
        self._cpu_started = 0.0

    @property
    def extra_rss_mib(self) -> float:
        return max(0.0, self.peak_rss_mib - self.start_rss_mib)

    def __enter__(self) -> Stopwatch:
        gc.collect()
        reset_peak_rss()
        self.start_rss_mib = rss_mib()
        self._cpu_started = time.process_time()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall_s = time.perf_counter() - self._started
        self.cpu_s = time.process_time() - self._cpu_started
        self.peak_rss_mib = peak_rss_mib()


def median(values: Sequence[float]) -> float:
    """The median (a burst of other work inflates a repeat as often as it deflates it)."""
    return float(statistics.median(values))


def raw_pingpong(pairs: int, rounds: int, compute_s: float) -> float:
    """User messages per (wall-clock) second of raw simpy; see :func:`raw_pingpong_rates`."""
    return raw_pingpong_rates(pairs, rounds, compute_s)[0]


def raw_pingpong_rates(pairs: int, rounds: int, compute_s: float) -> tuple[float, float]:
    """User messages per second of raw simpy: ``pairs`` processes ping-ponging via Stores.

    Each pair exchanges ``rounds`` pings and ``rounds`` pongs; each side waits
    ``compute_s`` (a timeout) before answering, as the simulated programs compute
    before they send. The count is of messages, not of simpy events. Returns messages
    per wall-clock second and per CPU second of this process.
    """

    def pinger(
        env: simpy.Environment, inbox: simpy.Store, outbox: simpy.Store
    ) -> Generator[simpy.Event, Any, None]:
        for i in range(rounds):
            yield env.timeout(compute_s)
            yield outbox.put(("ping", i))
            yield inbox.get()

    def ponger(
        env: simpy.Environment, inbox: simpy.Store, outbox: simpy.Store
    ) -> Generator[simpy.Event, Any, None]:
        for _ in range(rounds):
            message = yield inbox.get()
            yield env.timeout(compute_s)
            yield outbox.put(("pong", message[1]))

    gc.collect()  # earlier runs' garbage is not this run's to collect
    env = simpy.Environment()
    for _ in range(pairs):
        ping, pong = simpy.Store(env), simpy.Store(env)
        env.process(pinger(env, pong, ping))
        env.process(ponger(env, ping, pong))
    started, cpu_started = time.perf_counter(), time.process_time()
    env.run()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return 2 * pairs * rounds / wall, 2 * pairs * rounds / cpu


def interleaved(
    repeats: int, rows: Sequence[T], measure: Callable[[T], dict[str, Any]]
) -> dict[T, list[dict[str, Any]]]:
    """Measure every row once per repeat, row after row, repeat after repeat.

    Interleaving spreads a burst of background load over the rows instead of letting it
    fall on one of them.
    """
    results: dict[T, list[dict[str, Any]]] = {row: [] for row in rows}
    for _ in range(repeats):
        for row in rows:
            results[row].append(measure(row))
    return results

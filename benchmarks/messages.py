"""User messages per second through rhodos, as a ratio to raw simpy (``local_msgs_ratio``...).

``pairs`` ping-pong pairs of processes (:class:`~rhodos.workload.Pinger` and
:class:`~rhodos.workload.Ponger`) exchange ``rounds`` pings and pongs with ``Send`` and
``Receive``, computing ``compute_s`` before each send; *local* pairs live on one node,
*remote* pairs across two nodes of a switched ``modern-10gbe`` cluster. The count is of
user messages (each ping and each pong is one), from the moment every process exists to
the end of the run; the yardstick is :func:`~benchmarks.measure.raw_pingpong` with the
same pairs, rounds and compute, measured just before each rhodos measurement. The ratio
is of wall-clock rates; ``*_ratio_cpu`` is the same of CPU-time rates, which a machine
busy with other work disturbs less.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from benchmarks.measure import interleaved, median, raw_pingpong_rates
from rhodos.system import boot, processes, spawn
from rhodos.workload import Pinger, Ponger

__all__ = ["main", "rhodos_pingpong"]

PROFILE = "modern-10gbe"


def rhodos_pingpong(pairs: int, rounds: int, compute_s: float, remote: bool) -> tuple[float, float]:
    """User messages per wall-clock and per CPU second of ``pairs`` pairs run by rhodos."""
    gc.collect()  # earlier runs' garbage is not this run's to collect
    cluster = boot(nodes=2, profile=PROFILE, seed=0)
    spawned = []
    for _ in range(pairs):
        pong, pong_up = spawn(
            cluster, Ponger(rounds=rounds, compute_s=compute_s), 1 if remote else 0
        )
        _, ping_up = spawn(
            cluster, Pinger(rounds=rounds, compute_s=compute_s), 0, peers={"peer": pong}
        )
        spawned += [pong_up, ping_up]
    cluster.run(until=cluster.env.all_of(spawned))
    before = sum(p.messages_received for p in processes(cluster))
    started, cpu_started = time.perf_counter(), time.process_time()
    cluster.run()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    received = sum(p.messages_received for p in processes(cluster)) - before
    if received < pairs * rounds:  # every pong at least: the run did what it should
        raise RuntimeError(f"only {received} user messages were received")
    return received / wall, received / cpu


def main(quick: bool = False, repeats: int = 3) -> dict[str, Any]:
    """Measure local and remote message throughput against raw simpy; return the summary."""
    pairs, rounds, compute_s = 16, (100 if quick else 300), 1e-4
    rows = ("local", "remote")

    def measure(row: str) -> dict[str, Any]:
        raw, raw_cpu = raw_pingpong_rates(pairs, rounds, compute_s)
        rate, rate_cpu = rhodos_pingpong(pairs, rounds, compute_s, remote=row == "remote")
        return {
            "raw_msgs_per_s": raw,
            "msgs_per_s": rate,
            "ratio": rate / raw,
            "ratio_cpu": rate_cpu / raw_cpu,
        }

    results = interleaved(repeats, rows, measure)
    summary: dict[str, Any] = {"pairs": pairs, "rounds": rounds, "compute_s": compute_s}
    for row in rows:
        runs = results[row]
        summary[f"{row}_msgs_ratio"] = median([r["ratio"] for r in runs])
        summary[f"{row}_msgs_ratio_cpu"] = median([r["ratio_cpu"] for r in runs])
        summary[f"{row}_msgs_per_s"] = median([r["msgs_per_s"] for r in runs])
        summary[f"{row}_raw_msgs_per_s"] = median([r["raw_msgs_per_s"] for r in runs])
        summary[f"{row}_ratios"] = [r["ratio"] for r in runs]
    return summary

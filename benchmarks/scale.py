"""How the cost of a cluster run grows with the number of nodes (``scale``).

Every node runs 100 processes: 34 CPU-bound (:class:`~rhodos.workload.Computer`) and
33 pingers whose pongers run on the next node (so 33 pongers of the previous node's
pingers too), on a switched ``modern-10gbe`` cluster; the first ``until_s`` simulated
seconds are run, boot and spawning included. The figure of merit is the wall time per
process: a simulator whose cost is linear in the nodes keeps it flat. The CPU time of
the run is reported beside its wall time, and the raw-simpy yardstick of the same
repeat beside each row, so that a row measured on a busier machine can be told apart;
``raw_msgs_per_process`` is the wall time per process in units of that yardstick (how
many messages raw simpy exchanged in the same time), the least machine-dependent figure.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from benchmarks.measure import interleaved, median, raw_pingpong
from rhodos.system import boot, spawn
from rhodos.workload import Computer, Pinger, Ponger

__all__ = ["PROCESSES_PER_NODE", "cluster_run", "main"]

PROFILE = "modern-10gbe"
CPU_BOUND, PAIRS = 34, 33
PROCESSES_PER_NODE = CPU_BOUND + 2 * PAIRS
#: Node counts from which a row takes minutes: measured once, not ``repeats`` times.
BIG = 256


def cluster_run(nodes: int, until_s: float | None) -> dict[str, Any]:
    """Boot ``nodes`` nodes, spawn the processes, run to ``until_s`` (None: to the end)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    cluster = boot(nodes=nodes, profile=PROFILE, seed=0)
    for node in range(nodes):
        for _ in range(CPU_BOUND):
            spawn(cluster, Computer(cpu_seconds=0.1), node)
        for _ in range(PAIRS):
            pong, _ = spawn(cluster, Ponger(), (node + 1) % nodes)
            spawn(cluster, Pinger(), node, peers={"peer": pong})
    cluster.run(until=until_s)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    processes = nodes * PROCESSES_PER_NODE
    return {
        "nodes": nodes,
        "processes": processes,
        "wall_s": wall,
        "us_per_process": wall / processes * 1e6,
        "cpu_s": cpu,
        "cpu_us_per_process": cpu / processes * 1e6,
        "simulated_s": cluster.now,
        "events": next(cluster.env._eid),  # simpy numbers every event it schedules
    }


def main(
    quick: bool = False, repeats: int = 3, nodes: tuple[int, ...] | None = None
) -> list[dict[str, Any]]:
    """One row per node count: the median of ``repeats`` interleaved runs (one from BIG)."""
    counts = nodes or ((4, 16, 64) if quick else (4, 16, 64, 256, 1000))
    small = tuple(count for count in counts if count < BIG)
    big = tuple(count for count in counts if count >= BIG)

    def measure(count: int) -> dict[str, Any]:
        raw = raw_pingpong(16, 100, 1e-4)
        gc.collect()  # the previous row's cluster is garbage: not this row's to collect
        row = cluster_run(count, 0.1)
        # The cost of a process in raw simpy messages: what the machine did meanwhile.
        per_process = row["wall_s"] * raw / row["processes"]
        return {**row, "raw_msgs_per_s": raw, "raw_msgs_per_process": per_process}

    results = interleaved(repeats, small, measure)
    results.update(interleaved(1, big, measure))
    rows = []
    for count in counts:
        runs = results[count]
        row = dict(runs[0])
        for key in (
            "wall_s",
            "us_per_process",
            "cpu_s",
            "cpu_us_per_process",
            "raw_msgs_per_s",
            "raw_msgs_per_process",
        ):
            row[key] = median([run[key] for run in runs])
        row["wall_s_each"] = [run["wall_s"] for run in runs]
        rows.append(row)
    return rows

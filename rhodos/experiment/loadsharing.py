"""Load-sharing speedup: how much a cluster gains by migrating work, and what overhead costs.

``jobs`` CPU-bound processes start on node 0 of ``nodes`` workstations. Without load
sharing they share node 0's CPU; with it, node 0's Migration Manager sends all but
its share away at once, round-robin, with the given strategy. The speedup is the
makespan without sharing over the makespan with it: the migration overhead (latency,
the source's CPU spent on transfers, remote faults) is what keeps it below ``nodes``.

``workload="trace:NAME"`` makes every job a recorded real program (its trace replayed
once) instead of the synthetic CPU-bound job; ``cpu_seconds`` and ``memory_bytes`` then
come from the trace and may not be given.
"""

from __future__ import annotations

from typing import Any

import attrs

from rhodos.kernel import ClusterConfig, MachineProfile
from rhodos.system import boot, migrate, spawn
from rhodos.workload import Computer, ReferenceModel
from rhodos.workload.catalog import TracedProgram, is_trace

__all__ = ["LoadSharingResult", "load_sharing"]


@attrs.frozen
class LoadSharingResult:
    """Makespans with and without load sharing, and the migrations' mean latency."""

    makespan_alone_s: float
    makespan_shared_s: float
    mean_latency_s: float
    migrations: int

    @property
    def speedup(self) -> float:
        """Makespan without sharing over makespan with it."""
        return self.makespan_alone_s / self.makespan_shared_s


def _makespan(
    profile: MachineProfile,
    nodes: int,
    jobs: int,
    cpu_seconds: float,
    memory_bytes: int,
    strategy: str | None,
    seed: int,
    workload: str | None = None,
) -> tuple[float, list[float]]:
    cluster = boot(ClusterConfig(nodes=nodes, profile=profile, seed=seed))
    program: Any = Computer(
        name="job",
        cpu_seconds=cpu_seconds,
        memory_bytes=memory_bytes,
        refs=ReferenceModel(working_set=0.5, locality=0.8, write_fraction=0.1),
    )
    if workload is not None:
        program = TracedProgram(workload.removeprefix("trace:")).program()
    pids = [spawn(cluster, program, 0)[0] for _ in range(jobs)]
    latencies: list[float] = []
    if strategy is not None:

        def balancer() -> Any:
            yield cluster.env.timeout(0.01)
            moves = [
                migrate(cluster, pid, i % nodes, strategy)
                for i, pid in enumerate(pids)
                if i % nodes != 0
            ]
            for move in moves:
                record = yield move
                if record.ok:
                    latencies.append(record.latency_s)

        cluster.env.process(balancer())
    ends = [cluster.exit_event(pid) for pid in pids]
    cluster.run()
    if not all(e.triggered for e in ends):
        raise RuntimeError("a job never finished")
    return cluster.now, latencies


def load_sharing(
    profile: MachineProfile,
    *,
    nodes: int = 4,
    jobs: int = 8,
    cpu_seconds: float = 2.0,
    memory_bytes: int = 256 * 1024,
    strategy: str = "eager",
    seed: int = 0,
    workload: str | None = None,
) -> LoadSharingResult:
    """Run the jobs without and with load sharing; see the module docstring."""
    if workload is not None:
        if not is_trace(workload):
            raise ValueError(f"workload must be trace:NAME or trace:PATH, got {workload!r}")
        if (cpu_seconds, memory_bytes) != (2.0, 256 * 1024):
            raise ValueError(
                f"cpu_seconds and memory_bytes cannot be set for {workload}: the trace sets them"
            )
    args = (profile, nodes, jobs, cpu_seconds, memory_bytes)
    alone, _ = _makespan(*args, None, seed, workload)
    shared, latencies = _makespan(*args, strategy, seed, workload)
    mean = sum(latencies) / len(latencies) if latencies else 0.0
    return LoadSharingResult(alone, shared, mean, len(latencies))

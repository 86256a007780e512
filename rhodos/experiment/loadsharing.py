"""Load-sharing speedup: how much a cluster gains by migrating work, and what overhead costs.

``jobs`` CPU-bound processes start on node 0 of ``nodes`` workstations. Without load
sharing they share node 0's CPU; with it, node 0's Migration Manager sends all but
its share away at once, round-robin, with the given strategy. The speedup is the
makespan without sharing over the makespan with it: the migration overhead (latency,
the source's CPU spent on transfers, remote faults) is what keeps it below ``nodes``.
"""

from __future__ import annotations

from typing import Any

import attrs

from rhodos.kernel import ClusterConfig, MachineProfile
from rhodos.system import boot, migrate, spawn
from rhodos.workload import Computer, ReferenceModel

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
) -> tuple[float, list[float]]:
    cluster = boot(ClusterConfig(nodes=nodes, profile=profile, seed=seed))
    program = Computer(
        name="job",
        cpu_seconds=cpu_seconds,
        memory_bytes=memory_bytes,
        refs=ReferenceModel(working_set=0.5, locality=0.8, write_fraction=0.1),
    )
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
) -> LoadSharingResult:
    """Run the jobs without and with load sharing; see the module docstring."""
    alone, _ = _makespan(profile, nodes, jobs, cpu_seconds, memory_bytes, None, seed)
    shared, latencies = _makespan(profile, nodes, jobs, cpu_seconds, memory_bytes, strategy, seed)
    mean = sum(latencies) / len(latencies) if latencies else 0.0
    return LoadSharingResult(alone, shared, mean, len(latencies))

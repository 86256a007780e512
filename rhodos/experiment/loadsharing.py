"""Load-sharing speedup: how much a cluster gains by migrating work, and what overhead costs.

A user of node 0 of ``nodes`` workstations starts ``jobs`` CPU-bound processes, each an
exec handed to node 0's Load Manager (at :data:`START_S`, once the Load Managers have
exported their offers to the trader). Without load sharing (the policies of ``none``)
they share node 0's CPU. With it, the Load Managers run :func:`sharing`: sender-
initiated with a threshold of the jobs' fair share (``ceil(jobs / nodes)``), so each
exec that takes node 0's queue above it makes node 0 migrate its oldest running process,
with the given strategy, to the next node in turn (round-robin over the trader's
offers): all but node 0's share leave, evenly spread. The speedup is the makespan
without sharing over the makespan with it: the migration overhead (freeze, the source's
CPU spent on transfers, remote faults) is what keeps it below ``nodes``.

``workload="trace:NAME"`` makes every job a recorded real program (its trace replayed
once) instead of the synthetic CPU-bound job; ``cpu_seconds`` and ``memory_bytes`` then
come from the trace and may not be given.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from rhodos.kernel import ClusterConfig, Layout, MachineProfile
from rhodos.load.location import RoundRobin
from rhodos.load.requests import Exec
from rhodos.load.run import configure
from rhodos.load.selection import Oldest
from rhodos.load.settings import Settings
from rhodos.load.transfer import Sender
from rhodos.migration_manager import make_strategy
from rhodos.system import boot
from rhodos.workload import Computer, ProgramContext, ReferenceModel
from rhodos.workload.catalog import TracedProgram, is_trace

__all__ = ["START_S", "LoadSharingResult", "load_sharing", "sharing"]

#: When the user starts the jobs: after the Load Managers' first offers reached the
#: trader (the moment the balancing script of earlier versions acted).
START_S = 0.01


def sharing(nodes: int, jobs: int, strategy: str) -> Settings:
    """The Load Managers' policies: sender-initiated at the jobs' fair share, round-robin,
    the oldest process migrates with ``strategy``."""
    return Settings(
        transfer=Sender(threshold=math.ceil(jobs / nodes)),
        location=RoundRobin(),
        selection=Oldest(),
        strategy=make_strategy(strategy),
    )


@attrs.frozen
class LoadSharingResult:
    """Makespans with and without load sharing, and the migrations' mean freeze."""

    makespan_alone_s: float
    makespan_shared_s: float
    mean_freeze_s: float
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
) -> tuple[float, float, int]:
    """The makespan from the first exec, and the migrations' summed freeze and count."""
    cluster = boot(ClusterConfig(nodes=nodes, profile=profile, seed=seed))
    configure(cluster, Settings() if strategy is None else sharing(nodes, jobs, strategy))
    program: Any = Computer(
        name="job",
        cpu_seconds=cpu_seconds,
        memory_bytes=memory_bytes,
        refs=ReferenceModel(working_set=0.5, locality=0.8, write_fraction=0.1),
    )
    page = profile.page_size_bytes
    layout = Layout.from_bytes(memory_bytes, page)
    if workload is not None:
        program = TracedProgram(workload.removeprefix("trace:")).program()
        layout = program.layout(page)
    user = cluster.node(0)
    if jobs * layout.pages > user.frames_free:
        raise ValueError(
            f"{jobs} jobs of {layout.pages} pages each do not fit the {user.frames_free} free "
            f"page frames of a {profile.name} node, where they start: start fewer jobs"
        )
    ends = []

    def start() -> Any:
        yield cluster.env.timeout(START_S)
        for _ in range(jobs):
            pid = cluster.new_pid()
            context = ProgramContext(
                pid=pid,
                rng=cluster.rng("program", pid),
                layout=layout,
                page_size=page,
                peers={},
                instructions_per_s=profile.instructions_per_s,
            )
            ends.append(cluster.exit_event(pid))
            exec_ = Exec(pid, "job", program.run(context), layout, user.architecture)
            yield user.submit("load", exec_)  # a shell starts one job after another
        yield cluster.env.all_of(ends)
        finished.append(cluster.now)
        # a migration's record may come back after its process has exited (its last
        # clean-up message): wait for every one, to count them all
        while _unanswered(cluster):
            yield cluster.env.timeout(0.1)

    # the Load Managers' offers go on for ever: the run ends with the last record, or at
    # a horizon no sane run reaches (every job alone on one node, a thousand times over)
    finished: list[float] = []
    done = cluster.env.process(start())
    cluster.run(until=done | cluster.env.timeout(1000 * (START_S + jobs * cpu_seconds + 1)))
    if not done.triggered:
        raise RuntimeError("a job or a migration never finished")
    stats = [node.statistics("load") for node in cluster.nodes]
    freeze = sum(s.freeze_s for s in stats)
    return finished[0] - START_S, freeze, sum(s.migrations_completed for s in stats)


def _unanswered(cluster: Any) -> bool:
    """Whether a Load Manager still waits for a migration's record."""
    stats = [node.statistics("load") for node in cluster.nodes]
    return any(
        s.migrations_requested > s.migrations_completed + s.migrations_refused for s in stats
    )


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
    alone, _, _ = _makespan(*args, None, seed, workload)
    shared, freeze, moved = _makespan(*args, strategy, seed, workload)
    return LoadSharingResult(alone, shared, freeze / moved if moved else 0.0, moved)

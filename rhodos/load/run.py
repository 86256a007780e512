"""Run a load-sharing study: Poisson arrivals on every node, the Load Managers share, measure.

Each node gets processes at ``arrival_rate`` per second (a Poisson stream of its own),
each with a CPU demand drawn from the service distribution (or the arrivals of a
replayed trace); the arrival is an exec handed to the node's Load Manager, which
places the process or lets it run here and migrates later, as its policies say. A
process's *response time* runs from its arrival to its exit, its *slowdown* is the
response time over its demand (Harchol-Balter & Downey's measure), and it *migrated*
if it ran anywhere but its arrival node (a process that left and came back again is
not counted: the kernel records where a process was born and where it ends).

Only processes arriving in ``[warmup_s, duration_s)`` are measured; arrivals go on
after ``duration_s`` until every measured process has exited, so the last ones see the
same load as the others (a run stops regardless at :data:`HORIZON` times its duration,
and the processes still running are reported as unfinished).

The study's description and results are in :mod:`rhodos.load.study` (re-exported here).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any, cast

import attrs
import numpy as np
import simpy

from rhodos.kernel import Cluster, ClusterConfig, Layout, Node
from rhodos.load.owner import OwnerModel
from rhodos.load.requests import Configure, Exec, Placed
from rhodos.load.settings import Settings
from rhodos.load.study import (
    COSTS,
    LoadShareConfig,
    LoadShareResult,
    Replication,
    ideal_profile,
    replication_seed,
)
from rhodos.load.table import LoadStatistics
from rhodos.load.workload import TraceReplay, job
from rhodos.process_manager.requests import Spawn
from rhodos.system import boot
from rhodos.workload import Computer, ProgramContext, ReferenceModel
from rhodos.workload.catalog import TracedProgram

__all__ = [
    "COSTS",
    "HORIZON",
    "LoadShareConfig",
    "LoadShareResult",
    "Replication",
    "configure",
    "ideal_profile",
    "replication_seed",
    "run_loadshare",
    "run_replication",
    "simulate",
    "start_owners",
]

#: A run stops at this many times its duration, measured processes finished or not.
HORIZON = 20.0
#: Arrivals and demands are drawn this many at a time.
_BATCH = 256


class _Driver:
    """The users: Poisson arrivals on every node, and the measurement of what they got."""

    def __init__(
        self, cluster: Cluster, config: LoadShareConfig, *, keep: bool = False, log: bool = False
    ) -> None:
        self.cluster = cluster
        self.env: simpy.Environment = cluster.env
        self.config = config
        # Each node's own page size and CPU speed (nodes may be of several profiles).
        self.recorded = (
            None
            if config.program is None
            else TracedProgram(config.program.removeprefix("trace:"), loops=config.loops).program()
        )
        self.layouts = [
            Layout.from_bytes(config.memory_bytes, node.profile.page_size_bytes)
            if self.recorded is None
            else self.recorded.layout(node.profile.page_size_bytes)
            for node in cluster.nodes
        ]
        #: A recorded program's CPU demand on each node (its own, whatever ``service``).
        self.program_demands = (
            None
            if config.program is None
            else [config.program_demand(node.profile) for node in cluster.nodes]
        )
        self.speeds = [node.profile.cpu_speed for node in cluster.nodes]
        #: With ``keep``: (pid, arrival node, arrived at, demand, response) per process.
        self.kept: list[tuple[int, int, float, float, float]] | None = [] if keep else None
        #: With ``log``: per node, every arrival's instant and its demand alone there.
        self.log: list[tuple[list[float], list[float]]] | None = (
            [([], []) for _ in cluster.nodes] if log else None
        )
        self.responses: list[float] = []
        self.delays: list[float] = []
        self.slowdowns: list[float] = []
        self.node_sum = np.zeros(len(cluster.nodes))
        self.node_count = np.zeros(len(cluster.nodes), dtype=np.int64)
        self.moved = 0
        self.refused = 0
        self.outstanding = 0
        self.done = self.env.event()

    def arrivals(self, node: int) -> Generator[simpy.events.Event, Any, None]:
        """Node ``node``'s users: exec after exec, until the measured processes are done."""
        cfg = self.config
        arrivals = self.cluster.rng("arrivals", node)
        demands = self.cluster.rng("demands", node)
        gaps: list[float] = []
        needs: list[float] = []
        while not self.done.triggered:
            if not gaps:
                gaps = arrivals.exponential(1.0 / cfg.arrival_rate, _BATCH).tolist()[::-1]
                needs = cfg.service.draw(demands, _BATCH).tolist()[::-1]
            yield self.env.timeout(gaps.pop())
            if self.done.triggered:
                return
            need = needs.pop()
            if self.program_demands is not None:
                need = self.program_demands[node]
            self._exec(node, need)

    def replay(self, replay: TraceReplay) -> Generator[simpy.events.Event, Any, None]:
        """The trace's users: each exec at its (rescaled) instant, on its host's node."""
        for at, node, demand, name in replay.arrivals(len(self.cluster.nodes)):
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            if self.done.triggered:
                return
            self._exec(node, demand, name)

    def _program(self, pid: int, node: int, demand: float) -> Any:
        """The program of a process needing ``demand`` CPU seconds: compute and exit, or,
        with a dirty rate, compute in 1 s bursts dirtying its pages (so that migrating it
        moves what a real process would); or the recorded program, its pages replayed."""
        cfg = self.config
        layout = self.layouts[node]
        program: Any
        if self.recorded is not None:
            program = self.recorded  # the recorded program: its own demand and pages
        elif cfg.dirty_rate == 0 or layout.pages == 0:
            return job(demand)
        else:
            refs = ReferenceModel(working_set=1.0, refs_per_s=100.0, dirty_rate=cfg.dirty_rate)
            program = Computer("job", cfg.memory_bytes, demand, burst_s=1.0, refs=refs)
        profile = self.cluster.nodes[node].profile
        context = ProgramContext(
            pid=pid,
            rng=self.cluster.rng("program", pid),
            layout=layout,
            page_size=profile.page_size_bytes,
            peers={},
            instructions_per_s=profile.instructions_per_s,
        )
        return program.run(context)

    def _exec(self, node: int, demand: float, name: str = "job") -> None:
        """A user of ``node`` execs ``name``, a process needing ``demand`` CPU seconds;
        measure it if it arrives in the measured window."""
        cfg = self.config
        now = self.env.now
        target = self.cluster.nodes[node]
        pid = self.cluster.new_pid()
        program = self._program(pid, node, demand)
        if self.log is not None:
            self.log[node][0].append(now)
            self.log[node][1].append(demand / self.speeds[node])
        exec_ = Exec(pid, name, program, self.layouts[node], target.architecture)
        placed = target.submit("load", exec_)
        if cfg.warmup_s <= now < cfg.duration_s:
            self.outstanding += 1
            placed.callbacks.append(self._placed_callback())
            self.cluster.exit_event(pid).callbacks.append(
                self._exit_callback(pid, node, now, demand)
            )

    def _placed_callback(self) -> Callable[[simpy.Event], None]:
        def placed(event: simpy.Event) -> None:
            result = cast(Placed, event.value)
            if result.node is None:
                self.refused += 1
                self._finished_one()

        return placed

    def _exit_callback(
        self, pid: int, node: int, arrived: float, demand: float
    ) -> Callable[[simpy.Event], None]:
        def exited(_: simpy.Event) -> None:
            response = self.env.now - arrived
            alone = demand / self.speeds[node]  # its response alone on its arrival node
            self.responses.append(response)
            self.delays.append(response - alone)
            self.node_sum[node] += response
            self.node_count[node] += 1
            self.slowdowns.append(response / alone)
            if self.kept is not None:
                self.kept.append((pid, node, arrived, demand, response))
            home = self.cluster.home_of.get(pid, node)
            if home != node or self.cluster.location_of.get(pid, home) != home:
                self.moved += 1
            self._finished_one()

        return exited

    def _finished_one(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0 and self.env.now >= self.config.duration_s:
            self.done.succeed()

    def at_duration(self) -> Generator[simpy.events.Event, Any, None]:
        """Close the measurement at ``duration_s`` if nothing measured is still running."""
        yield self.env.timeout(self.config.duration_s)
        if self.outstanding == 0 and not self.done.triggered:
            self.done.succeed()


def configure(cluster: Cluster, settings: Settings) -> None:
    """Give every compute node's Load Manager ``settings`` and its own random stream.

    The requests reach the Load Managers from outside the simulated machines (the
    operator's console), at no simulated cost, when the simulation next runs.
    """
    problems = settings.problems(len(cluster.nodes))
    if problems:
        raise ValueError(problems[0])
    for node in cluster.nodes:
        stream = cluster.rng("load", node.node_id)
        node.submit("load", Configure(settings, len(cluster.nodes), stream))


def start_owners(cluster: Cluster, owners: OwnerModel) -> None:
    """Give every node an owner with ``owners``' sessions; the processes an owner starts
    run on the owner's workstation and are not measured."""
    empty = Layout.from_bytes(0, cluster.profile.page_size_bytes)
    for node in cluster.nodes:

        def start_job(cpu_s: float, node: Node = node) -> None:
            spawn = Spawn(cluster.new_pid(), "owner", job(cpu_s), empty)
            node.submit("process", spawn)

        cluster.env.process(owners.run(node, cluster.rng("owner", node.node_id), start_job))


def run_replication(config: LoadShareConfig, replication: int = 0) -> Replication:
    """Run one replication of ``config``; see the module docstring."""
    return simulate(config, replication).replication


@attrs.frozen
class Simulated:
    """One replication, the cluster it ran on (to read its nodes' state), and, if kept,
    every measured process: (pid, arrival node, arrival instant, demand, response); if
    logged, per node every arrival (measured or not): its instants and its demands alone
    there, in seconds."""

    replication: Replication
    cluster: Cluster
    processes: tuple[tuple[int, int, float, float, float], ...]
    arrivals: tuple[tuple[np.ndarray, np.ndarray], ...] = ()


def simulate(
    config: LoadShareConfig, replication: int = 0, *, keep: bool = False, log: bool = False
) -> Simulated:
    """Run one replication of ``config``, keeping the cluster (and, with ``keep``, the
    measured processes; with ``log``, every arrival) for a closer look."""
    problems = config.problems()
    if problems:
        raise ValueError(problems[0])
    seed = replication_seed(config.seed, replication)
    cluster = boot(
        ClusterConfig(
            nodes=config.nodes,
            profile=config.machine(),
            seed=seed,
            architectures=cast(Any, config.architectures),
            keep_log=False,
            node_profiles=config.node_machines(),
        )
    )
    configure(cluster, config.settings())
    driver = _Driver(cluster, config, keep=keep, log=log)
    if config.replay is not None:
        cluster.env.process(driver.replay(config.replay))
    else:
        for node in cluster.nodes:
            cluster.env.process(driver.arrivals(node.node_id))
    if config.owners is not None:
        start_owners(cluster, config.owners)
    cluster.env.process(driver.at_duration())
    began, began_cpu = time.perf_counter(), time.process_time()
    horizon = cluster.env.timeout(HORIZON * config.duration_s)
    cluster.run(until=driver.done | horizon)
    wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    responses = np.asarray(driver.responses)
    slowdowns = np.asarray(driver.slowdowns)
    count = int(responses.size)
    nan = float("nan")
    rep = Replication(
        seed=seed,
        processes=count,
        mean_response_s=float(responses.mean()) if count else nan,
        mean_slowdown=float(slowdowns.mean()) if count else nan,
        mean_delay_s=float(np.mean(driver.delays)) if count else nan,
        frac_slowdown_gt3=float((slowdowns > 3).mean()) if count else nan,
        frac_migrated=driver.moved / count if count else nan,
        refused=driver.refused,
        unfinished=max(0, driver.outstanding),
        simulated_s=cluster.now,
        wall_s=wall,
        cpu_s=cpu,
        load=_sum_statistics(cluster),
        messages_by_kind=dict(cluster.network.statistics().messages_by_kind),
        node_mean_response_s=tuple(
            (driver.node_sum / np.maximum(driver.node_count, 1)).tolist()
            if count
            else [nan] * config.nodes
        ),
    )
    arrivals = tuple((np.array(at), np.array(need)) for at, need in driver.log or ())
    return Simulated(rep, cluster, tuple(driver.kept or ()), arrivals)


def _sum_statistics(cluster: Cluster) -> LoadStatistics:
    """The Load Managers' statistics, summed over the nodes."""
    totals: dict[str, float] = {}
    for node in cluster.nodes:
        stats_ = node.statistics("load")
        for key, value in attrs.asdict(stats_).items():
            totals[key] = totals.get(key, 0) + value
    return LoadStatistics(**totals)  # type: ignore[arg-type]


def run_loadshare(
    config: LoadShareConfig, progress: Callable[[int, Replication], None] | None = None
) -> LoadShareResult:
    """Run every replication of ``config`` (``progress`` is told after each)."""
    problems = config.problems()
    if problems:
        raise ValueError(problems[0])
    done = []
    for index in range(config.replications):
        rep = run_replication(config, index)
        done.append(rep)
        if progress is not None:
            progress(index, rep)
    return LoadShareResult(config, tuple(done))

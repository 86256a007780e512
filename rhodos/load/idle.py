"""Run an idle-workstation study: owners come and go, batch jobs harvest their idle hosts.

Every node is a workstation with an owner (:class:`~rhodos.load.owner.OwnerModel`):
the owner types and runs short processes of their own, which stay. Beside them, each
node's users start *batch* jobs (a Poisson stream per node: compilations, simulations,
the ``pmake`` jobs of Sprite) through the node's Load Manager, which runs Sprite's
policy (:func:`idle_settings`): every batch job goes to an idle host if the trader lends
one, else runs where it was started; when an owner returns, the guests on the
workstation are evicted by the configured migration strategy (:mod:`rhodos.load.owner`).

A batch job is a memory-touching program (:class:`~rhodos.workload.Computer`): it
dirties its pages as it computes, so an eviction moves real state and each strategy's
cost shows. Arrivals stop at ``duration_s``; the run goes on until every batch job
has exited (at most :data:`HORIZON` times the duration), so that the CPU a guest got
is counted when its work ends. :func:`run_idle` returns an :class:`IdleResult`.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import attrs
import numpy as np
import simpy

from rhodos.kernel import Cluster, ClusterConfig, Layout, load_profile
from rhodos.load.information import NoInformation
from rhodos.load.location import RandomLocation
from rhodos.load.owner import IdleRule, OwnerModel
from rhodos.load.policy import positive
from rhodos.load.requests import Exec
from rhodos.load.run import configure
from rhodos.load.selection import Birth
from rhodos.load.settings import Settings
from rhodos.load.transfer import Always
from rhodos.load.workload import job
from rhodos.migration_manager import make_strategy
from rhodos.process_manager.requests import Spawn
from rhodos.system import boot
from rhodos.workload import Computer, ProgramContext, ReferenceModel

__all__ = ["HORIZON", "IdleResult", "IdleStudy", "idle_cluster", "idle_settings", "run_idle"]


#: Sprite's placement, for ``rule``: every batch job to an idle host the trader lends
#: (at random among them), nothing running moves but the guests owners evict.
def idle_settings(rule: IdleRule, strategy: str) -> Settings:
    """The Load Managers' settings of an idle-workstation cluster."""
    return Settings(
        information=NoInformation(),
        transfer=Always(),
        location=RandomLocation(),
        selection=Birth(),
        strategy=make_strategy(strategy),
        idle=rule,
    )


#: A run stops at this many times its duration, batch jobs finished or not.
HORIZON = 10.0


@attrs.frozen
class IdleStudy:
    """An idle-workstation study: the cluster, the owners, the batch jobs, the strategy."""

    nodes: int = 20
    profile: str = "sparc-ethernet"
    owner: OwnerModel = attrs.field(factory=OwnerModel)
    rule: IdleRule = attrs.field(factory=IdleRule)
    #: Mean seconds between batch jobs started on one node.
    batch_gap_s: float = attrs.field(default=300.0, validator=positive)
    #: Mean CPU seconds of a batch job (exponential).
    batch_cpu_s: float = attrs.field(default=60.0, validator=positive)
    #: A batch job's address space, and the pages it dirties per CPU second.
    batch_memory_bytes: int = 512 * 1024
    batch_dirty_rate: float = 20.0
    strategy: str = "flushing"
    duration_s: float = attrs.field(default=4 * 3600.0, validator=positive)
    seed: int = 0

    def problems(self) -> list[str]:
        """What is wrong with this study, one line each (empty: it can run)."""
        found = []
        if not isinstance(self.nodes, int) or self.nodes < 2:
            found.append(f"nodes must be an integer >= 2, got {self.nodes!r}")
        if not isinstance(self.batch_memory_bytes, int) or self.batch_memory_bytes < 0:
            found.append(
                f"batch_memory_bytes must be an integer >= 0, got {self.batch_memory_bytes!r}"
            )
        try:
            load_profile(self.profile)
            make_strategy(self.strategy)
        except ValueError as error:
            found.append(str(error))
        return found


@attrs.frozen
class IdleResult:
    """What an idle-workstation run measured."""

    study: IdleStudy
    #: Simulated seconds the run lasted (arrivals stop at the study's duration).
    simulated_s: float
    #: Host-seconds idle by the rule over host-seconds (sampled every rule.sample_s).
    idle_fraction: float
    #: CPU seconds every process got, and those guests got on the hosts they borrowed.
    cpu_s: float
    harvested_s: float
    batch_jobs: int
    #: Batch jobs started on an idle host, and those run where they started.
    placed_remote: int
    unfinished: int
    evictions: int
    evicted: int
    #: Mean seconds from an eviction's start to its last guest running again elsewhere.
    mean_eviction_s: float
    #: Mean freeze of the evicted guests' migrations.
    mean_freeze_s: float
    #: Mean seconds to ask the trader for an idle host (the *select*).
    mean_select_s: float
    #: Mean response time of the batch jobs (start to exit).
    mean_batch_response_s: float
    migrations_refused: int
    wall_s: float

    @property
    def harvested_fraction(self) -> float:
        """The share of all processing done by guests on borrowed hosts."""
        return self.harvested_s / self.cpu_s if self.cpu_s else float("nan")


class _Users:
    """The owners and the batch users of every node, and what their processes got."""

    def __init__(self, cluster: Cluster, study: IdleStudy) -> None:
        self.cluster = cluster
        self.study = study
        self.env: simpy.Environment = cluster.env
        page = cluster.profile.page_size_bytes
        self.batch_layout = Layout.from_bytes(study.batch_memory_bytes, page)
        self.owner_layout = Layout.from_bytes(0, page)
        self.responses: list[float] = []
        self.outstanding = 0
        self.started = 0
        self.done = self.env.event()

    def owner_job(self, node: int, cpu_s: float) -> None:
        """The owner of ``node`` starts a process of their own: it stays on the node."""
        pid = self.cluster.new_pid()
        spawn = Spawn(pid, "owner", job(cpu_s), self.owner_layout)
        self.cluster.node(node).submit("process", spawn)

    def batch(self, node: int) -> Generator[simpy.events.Event, Any, None]:
        """Node ``node``'s batch users: Poisson starts until the study's duration."""
        study = self.study
        gaps = self.cluster.rng("batch-arrivals", node)
        demands = self.cluster.rng("batch-demands", node)
        refs = ReferenceModel(
            working_set=1.0, locality=0.5, refs_per_s=100.0, dirty_rate=study.batch_dirty_rate
        )
        while True:
            yield self.env.timeout(gaps.exponential(study.batch_gap_s))
            if self.env.now >= study.duration_s:
                return
            cpu_s = float(demands.exponential(study.batch_cpu_s))
            program = Computer(
                name="batch",
                memory_bytes=study.batch_memory_bytes,
                cpu_seconds=cpu_s,
                burst_s=1.0,
                refs=refs,
            )
            pid = self.cluster.new_pid()
            context = ProgramContext(
                pid=pid,
                rng=self.cluster.rng("program", pid),
                layout=self.batch_layout,
                page_size=self.cluster.profile.page_size_bytes,
                peers={},
                instructions_per_s=self.cluster.profile.instructions_per_s,
            )
            target = self.cluster.node(node)
            request = Exec(
                pid, "batch", program.run(context), self.batch_layout, target.architecture
            )
            target.submit("load", request)
            self.started += 1
            self.outstanding += 1
            self.cluster.exit_event(pid).callbacks.append(self._exited(self.env.now))

    def _exited(self, started: float) -> Any:
        def exited(_: simpy.Event) -> None:
            self.responses.append(self.env.now - started)
            self.outstanding -= 1
            if self.outstanding == 0 and self.env.now >= self.study.duration_s:
                self.done.succeed()

        return exited

    def closing(self) -> Generator[simpy.events.Event, Any, None]:
        """End at the study's duration if no batch job is still running then."""
        yield self.env.timeout(self.study.duration_s)
        if self.outstanding == 0 and not self.done.triggered:
            self.done.succeed()


def idle_cluster(study: IdleStudy) -> Cluster:
    """A booted cluster of ``study``'s workstations whose Load Managers run Sprite's policy."""
    cluster = boot(
        ClusterConfig(
            nodes=study.nodes,
            profile=load_profile(study.profile),
            seed=study.seed,
            keep_log=False,
        )
    )
    configure(cluster, idle_settings(study.rule, study.strategy))
    return cluster


def run_idle(study: IdleStudy) -> IdleResult:
    """Run ``study``; see the module docstring."""
    problems = study.problems()
    if problems:
        raise ValueError(problems[0])
    cluster = idle_cluster(study)
    users = _Users(cluster, study)
    for node in cluster.nodes:
        rng = cluster.rng("owner", node.node_id)
        start = node.node_id

        def start_job(cpu_s: float, node_id: int = start) -> None:
            users.owner_job(node_id, cpu_s)

        cluster.env.process(study.owner.run(node, rng, start_job))
        cluster.env.process(users.batch(node.node_id))
    cluster.env.process(users.closing())
    began = time.perf_counter()
    cluster.run(until=users.done | cluster.env.timeout(HORIZON * study.duration_s))
    wall = time.perf_counter() - began
    stats = [node.statistics("load") for node in cluster.nodes]

    def total(field: str) -> float:
        return float(sum(getattr(s, field) for s in stats))

    evictions = int(total("evictions"))
    evicted = int(total("evicted"))
    selects = total("selects")
    completed = total("migrations_completed")
    nan = float("nan")
    return IdleResult(
        study=study,
        simulated_s=float(cluster.now),
        idle_fraction=total("idle_s") / (study.nodes * cluster.now),
        cpu_s=float(sum(node.cpu.statistics().user_seconds for node in cluster.nodes)),
        harvested_s=float(sum(node.foreign_cpu_s for node in cluster.nodes)),
        batch_jobs=users.started,
        placed_remote=int(total("placed_remote")),
        unfinished=users.outstanding,
        evictions=evictions,
        evicted=evicted,
        mean_eviction_s=total("eviction_s") / evictions if evictions else nan,
        mean_freeze_s=total("freeze_s") / completed if completed else nan,
        mean_select_s=total("select_s") / selects if selects else nan,
        mean_batch_response_s=float(np.mean(users.responses)) if users.responses else nan,
        migrations_refused=int(total("migrations_refused")),
        wall_s=wall,
    )

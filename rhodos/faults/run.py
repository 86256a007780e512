"""A cluster run with random failures and load sharing (``rhodos faults``).

Every compute node gets CPU-bound processes (Poisson arrivals of ``arrival_rate`` per
second, exponential demands of mean ``mean_demand_s``), handed to its Load Manager,
which shares load with the ``symmetric`` policy (sender- and receiver-initiated,
preemptive: it migrates processes with ``strategy``). Every compute node fails and is
repaired at random (exponential times of means ``mttf_s`` and ``mttr_s``; the file
server, the stable storage of the checkpoints, does not fail here); processes are
checkpointed every ``checkpoint_interval_s`` and a process's program image is its first
checkpoint. Alongside, ``pairs`` pairs of processes talk for the whole run (a
:class:`~rhodos.faults.talkers.Counter` and its :class:`~rhodos.faults.talkers.Echo`,
one step of :data:`TALK_STEP_S` CPU-seconds between messages, as many messages as keep
them busy for about half of ``duration_s``), started at the beginning on neighbouring
nodes. Arrivals stop at ``duration_s``; the run goes on until
every process has ended, or :data:`HORIZON` times the duration.

The report counts processes completed, restarts, work lost and work run again,
migrations aborted and rolled back, messages reported undeliverable, processes lost and
processes duplicated (a process seen running on two nodes at once, sampled every
:data:`SAMPLE_S`), and of the talking pairs' messages those lost and those taken twice
by their receiving program; the processes and the messages lost and duplicated must be
0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Generator
from typing import Any

import attrs
import simpy

from rhodos.faults import talkers
from rhodos.faults.injector import FaultInjector
from rhodos.faults.plan import FaultPlan, RandomFailures
from rhodos.kernel import LOST_EXIT_CODE, Cluster, Layout, LogEvent, load_profile
from rhodos.load.presets import policy_settings
from rhodos.load.requests import Exec
from rhodos.load.run import configure
from rhodos.load.workload import job
from rhodos.migration_manager import make_strategy, registered
from rhodos.system import boot, spawn

__all__ = ["HORIZON", "SAMPLE_S", "TALK_STEP_S", "FaultsConfig", "FaultsReport", "run_faults"]

#: The run stops at this many times its duration, processes ended or not.
HORIZON = 10.0
#: How often the processes running on each node are compared (duplicates).
SAMPLE_S = 0.01
#: CPU-seconds a talking process computes between two messages.
TALK_STEP_S = 1.0


def _finite_positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


@attrs.frozen
class FaultsConfig:
    """One run of ``rhodos faults``; :meth:`problems` lists what is wrong with it."""

    strategy: str = "eager"
    nodes: int = 4
    mttf_s: float = 200.0
    mttr_s: float = 20.0
    checkpoint_interval_s: float = 10.0
    duration_s: float = 600.0
    seed: int = 0
    arrival_rate: float = 0.3
    mean_demand_s: float = 2.0
    memory_bytes: int = 64 * 1024
    profile: str = "sun3-ethernet"
    #: Counter-and-echo pairs that talk for the whole run.
    pairs: int = 2

    def problems(self) -> list[str]:
        """What is wrong, one line each, naming the option and what it allows."""
        found = []
        names = [n for n in registered() if n != "auto"]
        if self.strategy not in names:
            found.append(f"--strategy must be one of {', '.join(names)}, got {self.strategy!r}")
        if not isinstance(self.nodes, int) or not 2 <= self.nodes <= 256:
            found.append(f"--nodes must be an integer within [2, 256], got {self.nodes!r}")
        for option, value in (
            ("--mttf", self.mttf_s),
            ("--mttr", self.mttr_s),
            ("--checkpoint-interval", self.checkpoint_interval_s),
            ("--duration", self.duration_s),
        ):
            if not _finite_positive(value):
                found.append(f"{option} must be a number of seconds > 0, got {value!r}")
        if _finite_positive(self.duration_s) and self.duration_s > 1e6:
            found.append(f"--duration must be at most 1e6 seconds, got {self.duration_s!r}")
        if not isinstance(self.pairs, int) or not 0 <= self.pairs <= 256:
            found.append(f"pairs must be an integer within [0, 256], got {self.pairs!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            found.append(f"--seed must be an integer >= 0, got {self.seed!r}")
        return found


@attrs.frozen
class FaultsReport:
    """What a run of ``rhodos faults`` counted."""

    config: FaultsConfig
    processes_started: int
    processes_completed: int
    processes_lost: int
    processes_duplicated: int
    processes_unfinished: int
    restarts: int
    work_lost_cpu_s: float
    work_reexecuted_cpu_s: float
    crashes: int
    recoveries: int
    detection_mean_s: float | None
    checkpoints: int
    checkpoint_bytes: int
    migrations: int
    migrations_completed: int
    migrations_refused: int
    migrations_aborted: int
    migrations_rolled_back: int
    messages_undeliverable: int
    heartbeats_undeliverable: int
    talking_processes: int
    talking_completed: int
    messages_sent: int
    messages_lost: int
    messages_duplicated: int
    messages_returned: int
    lost_reasons: tuple[str, ...]
    simulated_s: float

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON object."""
        row = attrs.asdict(self, recurse=False)
        row["config"] = attrs.asdict(self.config)
        row["lost_reasons"] = list(self.lost_reasons)
        return row


class _Run:
    """The users, the watchers and the tallies of one run."""

    def __init__(self, cluster: Cluster, config: FaultsConfig, injector: FaultInjector) -> None:
        self.cluster = cluster
        self.env: simpy.Environment = cluster.env
        self.config = config
        self.injector = injector
        self.layout = Layout.from_bytes(config.memory_bytes, cluster.profile.page_size_bytes)
        self.pids: list[int] = []
        self.duplicated: set[int] = set()
        self.records: Counter[str] = Counter()
        self.exec_failures = 0
        self.tally = talkers.Tally()
        self.talkers: list[int] = []

    def talk(self) -> None:
        """Start the counter-and-echo pairs, pair ``i`` on nodes ``2i`` and ``2i + 1``."""
        cfg, cluster = self.config, self.cluster
        rounds = max(1, int(cfg.duration_s / (4 * TALK_STEP_S)))  # half the arrivals' time
        for i in range(cfg.pairs):
            counter, echo = cluster.new_pid(), cluster.new_pid()
            on = (2 * i % cfg.nodes, (2 * i + 1) % cfg.nodes)
            for pid, peer, node, program in (
                (counter, echo, on[0], talkers.Counter(self.tally, rounds, TALK_STEP_S)),
                (echo, counter, on[1], talkers.Echo(self.tally, rounds, TALK_STEP_S)),
            ):
                spawn(cluster, program, node, pid=pid, peers={"peer": peer})
                self.talkers.append(pid)

    def arrivals(self, node_id: int) -> Generator[simpy.events.Event, Any, None]:
        cfg = self.config
        gaps = self.cluster.rng("fault-arrivals", node_id)
        demands = self.cluster.rng("fault-demands", node_id)
        while True:
            yield self.env.timeout(float(gaps.exponential(1.0 / cfg.arrival_rate)))
            if self.env.now >= cfg.duration_s:
                return
            demand = float(demands.exponential(cfg.mean_demand_s))
            node = self.cluster.node(node_id)
            if node.crashed:
                continue  # its users cannot exec on a crashed machine
            pid = self.cluster.new_pid()
            placed = node.submit(
                "load", Exec(pid, "job", job(demand), self.layout, node.architecture)
            )
            self.pids.append(pid)
            placed.callbacks.append(self._placed(pid))

    def _placed(self, pid: int) -> Callable[[simpy.Event], None]:
        """A process that could not be started (no memory, a crash meanwhile) is none."""

        def placed(event: simpy.Event) -> None:
            if event.ok and getattr(event.value, "node", None) is not None:
                return
            event.defused = True
            self.exec_failures += 1
            self.pids.remove(pid)

        return placed

    def watch(self) -> Generator[simpy.events.Event, Any, None]:
        while True:
            seen: set[int] = set()
            for node in self.cluster.nodes:
                for pid in node.threads:
                    if pid in seen:
                        self.duplicated.add(pid)
                    seen.add(pid)
            yield self.env.timeout(SAMPLE_S)

    def on_event(self, event: LogEvent) -> None:
        if event.component != "migration" or event.event != "record":
            return
        fields = dict(event.fields)
        self.records["all"] += 1
        if fields.get("refused") is not None:
            self.records["refused"] += 1
        elif fields.get("outcome") is not None:
            self.records["aborted"] += 1
            if fields["outcome"] == "rolled-back":
                self.records["rolled-back"] += 1
        else:
            self.records["completed"] += 1

    def all_ended(self) -> bool:
        return self.env.now >= self.config.duration_s and all(
            self.cluster.exit_event(pid).triggered for pid in self.pids + self.talkers
        )


def run_faults(config: FaultsConfig) -> FaultsReport:
    """Run ``config``; see the module docstring."""
    problems = config.problems()
    if problems:
        raise ValueError(problems[0])
    profile = load_profile(config.profile)
    cluster = boot(nodes=config.nodes, profile=profile, seed=config.seed, keep_log=False)
    settings = policy_settings("symmetric", strategy=make_strategy(config.strategy))
    horizon = HORIZON * config.duration_s
    plan = FaultPlan(
        random=RandomFailures(config.mttf_s, config.mttr_s),
        checkpoint_interval_s=config.checkpoint_interval_s,
        until_s=horizon,
    )
    injector = FaultInjector(cluster, plan, load_settings=settings)
    configure(cluster, settings)
    run = _Run(cluster, config, injector)
    run.talk()
    cluster.log.subscribe(run.on_event)
    for node in cluster.nodes:
        cluster.env.process(run.arrivals(node.node_id))
    cluster.env.process(run.watch())
    step = max(1.0, config.duration_s / 100)
    while cluster.now < horizon and not run.all_ended():
        cluster.run(until=min(horizon, cluster.now + step))
    codes = [cluster.exit_event(p).value for p in run.pids if cluster.exit_event(p).triggered]
    journal = injector.journal
    declared = list(zip(journal.declared, journal.declared_at, strict=True))
    delays = [
        at - crash.at
        for crash in injector.crashes
        for (node, incarnation), at in declared
        if (node, incarnation) == (crash.node, crash.incarnation)
    ]
    undeliverable = cluster.undeliverable
    talked = [cluster.exit_event(p) for p in run.talkers]
    # What a process reported lost had not taken went with it (the report counts it).
    lost = frozenset(
        p for p, e in zip(run.talkers, talked, strict=True) if e.triggered and e.value != 0
    )
    return FaultsReport(
        config=config,
        processes_started=len(run.pids),
        processes_completed=sum(code == 0 for code in codes),
        processes_lost=sum(code == LOST_EXIT_CODE for code in codes),
        processes_duplicated=len(run.duplicated),
        processes_unfinished=len(run.pids) - len(codes),
        restarts=sum(journal.restarts.values()),
        work_lost_cpu_s=journal.work_lost_s,
        work_reexecuted_cpu_s=journal.reexecuted_s,
        crashes=len(injector.crashes),
        recoveries=len(injector.recoveries),
        detection_mean_s=sum(delays) / len(delays) if delays else None,
        checkpoints=len(injector.checkpoints),
        checkpoint_bytes=sum(image.bytes for image in injector.checkpoints),
        migrations=run.records["all"],
        migrations_completed=run.records["completed"],
        migrations_refused=run.records["refused"],
        migrations_aborted=run.records["aborted"],
        migrations_rolled_back=run.records["rolled-back"],
        messages_undeliverable=sum(n for kind, n in undeliverable.items() if kind != "heartbeat"),
        heartbeats_undeliverable=undeliverable.get("heartbeat", 0),
        talking_processes=len(run.talkers),
        talking_completed=sum(e.triggered and e.value == 0 for e in talked),
        messages_sent=run.tally.messages,
        messages_lost=run.tally.lost(lost),
        messages_duplicated=run.tally.duplicated,
        messages_returned=run.tally.undeliverable,
        lost_reasons=tuple(sorted(set(journal.lost.values())))[:10],
        simulated_s=cluster.now,
    )

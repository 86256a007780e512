"""One migration, measured; and every strategy on the same scenario.

A :class:`Scenario` fixes everything but the strategy: profile, workload, the migrated
process's memory and dirty rate, when it is migrated, the seed. :func:`run_migration`
runs the scenario twice -- once without migration, once with -- and returns the
record with its slowdown (the migrated process's completion time over the
unmigrated one's). :func:`compare` runs every registered strategy on the same
scenario with the same seed, so the differences are the strategies' alone.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from rhodos.kernel import (
    MAX_NODES,
    Cluster,
    ClusterConfig,
    ConfigError,
    Layout,
    MachineProfile,
    OutOfMemory,
    load_profile,
)
from rhodos.migration_manager import MigrationRecord, make_strategy, registered
from rhodos.system import boot, migrate
from rhodos.units import format_size, parse_size
from rhodos.validators import did_you_mean, non_negative, positive_fraction, within
from rhodos.workload import make_workload
from rhodos.workload import registered as registered_workloads
from rhodos.workload.catalog import TRACE_PREFIX, is_trace
from rhodos.workload.pagetrace import TraceFigures, open_trace, trace_figures

__all__ = [
    "FILE_KNOBS",
    "Observer",
    "Scenario",
    "compare",
    "parse_size",
    "refusal_advice",
    "run_migration",
    "scenario_row",
    "scenario_value",
]

#: Called with each cluster before it runs (to subscribe a trace exporter or a logger to
#: ``cluster.log``): ``observe(label, cluster)``, label ``"baseline"`` or the strategy.
Observer = Callable[[str, Cluster], None]


def _profile(value: MachineProfile | str) -> MachineProfile:
    return value if isinstance(value, MachineProfile) else load_profile(value)


#: The longest simulated time a scenario may ask for: 10^6 s (11.6 days). Simulated
#: time is a float of seconds; up to 1e6 s it resolves 1e-10 s, far below the smallest
#: cost of any profile (a microsecond), and a run is ~10 ms of wall clock per simulated
#: CPU-second, so 1e6 s is a few hours: a long run, never an endless one.
HORIZON = 1e6
#: A process's address space: 1 byte to 1 TiB (the simulator keeps ~10 bytes of state
#: per page on each node that holds it: 2.7 GB for 1 TiB of 4 KiB pages).
MEMORY = within(1, 1 << 40, words="within [1 byte, 1 TiB]")
#: Pages a process writes per second: at most 1e8 (400 GB/s into 4 KiB pages, more than
#: any memory bus carries).
DIRTY_RATE = within(0, 1e8, "pages/s")
#: A node's memory, when the scenario sets it: the range a profile allows (256 TiB is
#: 48 address bits; see rhodos.kernel.profile_fields).
NODE_MEMORY = within(1, 1 << 48, words="within [1 byte, 256 TiB]")
#: Location-dependent calls per second: at most 1e6 (each is a round trip home, at least
#: ~10 us on the fastest network, so no process makes 10^5 a second).
HOME_CALLS = within(0, 1e6, "calls/s")


def _nodes(_: Any, attribute: attrs.Attribute[int], value: int) -> None:
    """At least two nodes (a source and a destination), at most what a cluster holds."""
    within(2, MAX_NODES - 1).check(attribute.name, value, ConfigError)
    if not isinstance(value, int):
        raise ConfigError(f"nodes must be an integer, got {value!r}")


def _workload(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    workloads = registered_workloads()
    if is_trace(value):
        open_trace(value.removeprefix(TRACE_PREFIX))  # names the shipped traces if absent
    elif value not in workloads:
        raise ValueError(
            f"unknown workload {value!r}{did_you_mean(value, workloads)}; "
            f"workloads are: {', '.join(sorted(workloads))}, or trace:NAME / trace:PATH "
            "(a recorded program)"
        )


#: For each named workload, its parameters that a :class:`Scenario` field sets:
#: workload parameter -> scenario field. Other workloads get ``memory_bytes`` only.
SCENARIO_SETS: dict[str, dict[str, str]] = {
    "memory-writer": {
        "dirty_rate": "dirty_rate",
        "cpu_seconds": "cpu_seconds",
        "memory_bytes": "memory_bytes",
        "working_set": "touch_fraction",
        "home_calls_per_s": "home_calls_per_s",
        "open_files": "open_files",
        "dirty_file_blocks": "dirty_file_blocks",
    },
    "cpu-bound": {
        "cpu_seconds": "cpu_seconds",
        "memory_bytes": "memory_bytes",
        "working_set": "touch_fraction",
        "open_files": "open_files",
        "dirty_file_blocks": "dirty_file_blocks",
    },
}
#: The scenario's knobs of the migrated process's open files, and the workloads that take them.
FILE_KNOBS = ("open_files", "dirty_file_blocks")
FILE_WORKLOADS = tuple(w for w, sets in SCENARIO_SETS.items() if "open_files" in sets)

#: The knobs of the synthetic workloads, which a recorded program (``trace:``) sets itself.
SYNTHETIC_KNOBS = (
    "memory_bytes",
    "dirty_rate",
    "touch_fraction",
    "cpu_seconds",
    "home_calls_per_s",
)


#: The CPU time of the migrated process when ``cpu_seconds`` is not given: at least
#: this many seconds ...
DEFAULT_CPU_SECONDS = 2.0
#: ... and at least the migration request's time plus this many times the time its
#: address space takes on the network, so that a migration that lets it run (precopy,
#: whose rounds copy the space once and then what it dirtied) ends before it does.
COPY_MARGIN = 1.5


def _optional_size(value: int | str | None) -> int | None:
    return None if value is None else parse_size(value)


def _optional(rule: Any) -> Any:
    return attrs.validators.optional(rule)


@attrs.frozen
class Scenario:
    """Everything about a migration experiment except the strategy.

    Attributes:
        profile: machine profile (name or TOML path).
        workload: the named workload; its first process is the one migrated.
        memory_bytes: address-space size of the migrated process.
        dirty_rate: pages per second it writes (memory-writer).
        touch_fraction: fraction of its heap it references (its working set), > 0.
        cpu_seconds: CPU time it needs (memory-writer, cpu-bound); ``None`` (the
            default): long enough for the migration, see :attr:`process_cpu_seconds`.
        migrate_at: simulated time of the migration request.
        nodes: compute nodes; the process moves from node 0 to node 1.
        seed: root seed.
        topology: network topology (``None``: the profile's).
        home_calls_per_s: location-dependent calls per second (memory-writer).
        node_memory_bytes: memory of each node (``None``: the profile's).
        workload_params: the workload's other parameters (``rounds`` of pingpong...);
            those a field above sets are refused here.
        loops: how many times a recorded program (``trace:NAME``) runs through its
            trace (0: for ever); traces only.
        open_files: files the migrated process opens before it computes (memory-writer,
            cpu-bound); the File Manager moves them with it.
        dirty_file_blocks: blocks it writes into them, dirty in its node's block cache
            when it is migrated (a migration flushes or moves them).

    A ``trace:`` workload is a recorded program: its trace sets its address space, its
    dirty rate, what it touches and its CPU time, so ``memory_bytes``, ``dirty_rate``,
    ``touch_fraction``, ``cpu_seconds`` and ``home_calls_per_s`` are refused with it
    (a value equal to the default cannot be told from no value, and passes); the rows
    report the trace's own figures instead (:meth:`trace_figures`).
    """

    profile: MachineProfile = attrs.field(
        factory=lambda: load_profile("sun3-ethernet"), converter=_profile
    )
    workload: str = attrs.field(default="memory-writer", validator=_workload)
    memory_bytes: int = attrs.field(default=1 << 20, converter=parse_size, validator=MEMORY)
    dirty_rate: float = attrs.field(default=20.0, validator=DIRTY_RATE)
    touch_fraction: float = attrs.field(default=0.5, validator=positive_fraction)
    cpu_seconds: float | None = attrs.field(
        default=None, validator=_optional(within(0, HORIZON, "s", above=True))
    )
    migrate_at: float = attrs.field(default=0.5, validator=within(0, HORIZON, "s"))
    nodes: int = attrs.field(default=2, validator=_nodes)
    seed: int = attrs.field(default=0, validator=non_negative)
    topology: str | None = None
    home_calls_per_s: float = attrs.field(default=0.0, validator=HOME_CALLS)
    node_memory_bytes: int | None = attrs.field(
        default=None, converter=_optional_size, validator=_optional(NODE_MEMORY)
    )
    workload_params: dict[str, Any] = attrs.field(factory=dict, converter=dict, hash=False)
    loops: int = attrs.field(default=1, validator=non_negative)
    open_files: int = attrs.field(default=0, validator=non_negative)
    dirty_file_blocks: int = attrs.field(default=0, validator=non_negative)

    def __attrs_post_init__(self) -> None:
        page = self.profile.page_size_bytes
        if self.node_memory_bytes is not None and self.node_memory_bytes % page:
            raise ConfigError(
                f"node_memory_bytes must be a whole number of {format_size(page)} pages "
                f"(the page size of {self.profile.name}), got {self.node_memory_bytes:,}"
            )
        self._check_trace_knobs()
        if self.has_files and self.workload not in FILE_WORKLOADS:
            raise ConfigError(
                f"open_files and dirty_file_blocks apply to the workloads "
                f"{' and '.join(FILE_WORKLOADS)}, not to {self.workload!r}"
            )
        sets = self._sets()
        for key in self.workload_params:
            if key in sets:
                raise ConfigError(
                    f"the workload parameter {key} is the scenario's {sets[key]}: "
                    f"set it there (--{sets[key].replace('_', '-')})"
                )
        make_workload(self.workload, **self.workload_arguments())  # bad ones fail now

    def _sets(self) -> dict[str, str]:
        """The workload's parameters that a scenario field sets (see :data:`SCENARIO_SETS`)."""
        if is_trace(self.workload):
            return {"loops": "loops"}
        return SCENARIO_SETS.get(self.workload, {"memory_bytes": "memory_bytes"})

    def _check_trace_knobs(self) -> None:
        """``loops`` only with a trace; a trace's own knobs never set by the scenario."""
        if not is_trace(self.workload):
            if self.loops != 1:
                raise ConfigError(
                    f"loops = {self.loops}: loops applies to a recorded program "
                    f"(trace:NAME) only, not to {self.workload!r}"
                )
            return
        defaults = {f.name: f.default for f in attrs.fields(Scenario)}
        given = [k for k in SYNTHETIC_KNOBS if getattr(self, k) != defaults[k]]
        if given:
            raise ConfigError(
                f"{', '.join(given)} cannot be set for {self.workload}: a recorded program's "
                "trace sets its address space, dirty rate, touched pages and CPU time "
                "(vary the profile, migrate_at or loops instead)"
            )

    @property
    def has_files(self) -> bool:
        """The migrated process opens files (its rows carry the file knobs and metrics)."""
        return bool(self.open_files or self.dirty_file_blocks)

    def trace_figures(self) -> TraceFigures | None:
        """A ``trace:`` workload's own figures on this profile (None for other workloads)."""
        if not is_trace(self.workload):
            return None
        return _figures(self.workload, self.profile)

    @property
    def process_memory_bytes(self) -> int:
        """The migrated process's address space: ``memory_bytes``, or a trace's own."""
        figures = self.trace_figures()
        return self.memory_bytes if figures is None else figures.memory_bytes

    @property
    def process_cpu_seconds(self) -> float:
        """The CPU time the migrated process computes for (memory-writer, cpu-bound).

        ``cpu_seconds`` when given; else :data:`DEFAULT_CPU_SECONDS`, or, when its address
        space takes long to cross the network, ``migrate_at`` plus :data:`COPY_MARGIN`
        times :meth:`copy_estimate_s`, whichever is longer: a 4 MiB process on 10 Mb/s
        Ethernet runs 5.8 s, long enough for precopy's rounds at the default dirty rate.
        """
        if self.cpu_seconds is not None:
            return self.cpu_seconds
        return max(DEFAULT_CPU_SECONDS, self.migrate_at + COPY_MARGIN * self.copy_estimate_s())

    def copy_estimate_s(self) -> float:
        """The time the whole address space takes on the network, headers included (an
        estimate: it leaves out protocol CPU costs and other traffic)."""
        profile = self.profile
        return profile.wire_bytes(self.process_memory_bytes) / profile.bandwidth_bytes_per_s

    def cluster_config(self) -> ClusterConfig:
        """The cluster this scenario runs on."""
        profile = self.profile
        if self.node_memory_bytes is not None:
            profile = attrs.evolve(profile, memory_bytes=self.node_memory_bytes)
        return ClusterConfig(
            nodes=self.nodes, profile=profile, seed=self.seed, topology=self.topology
        )

    def workload_arguments(self) -> dict[str, Any]:
        """The workload's parameters: those the scenario's fields set, then its own."""
        arguments = {key: getattr(self, field) for key, field in self._sets().items()}
        if "cpu_seconds" in arguments:
            arguments["cpu_seconds"] = self.process_cpu_seconds
        return {**arguments, **self.workload_params}

    def check_fits(self) -> None:
        """Raise :class:`ConfigError` when the migrated process cannot fit in a node."""
        profile = self.cluster_config().profile
        page = profile.page_size_bytes
        needed = Layout.from_bytes(self.process_memory_bytes, page).pages * page
        if needed > profile.memory_bytes:
            mib = 1 << 20
            suggestion = format_size(-(-needed // mib) * mib).replace(" ", "")
            raise ConfigError(
                f"a {format_size(self.process_memory_bytes)} process does not fit in the "
                f"{format_size(profile.memory_bytes)} of a {profile.name} node: give the "
                f"nodes more memory with --node-memory {suggestion} (node_memory_bytes)"
            )

    def start(self) -> tuple[Cluster, int]:
        """Boot the cluster and the workload; the pid to migrate."""
        self.check_fits()
        cluster = boot(self.cluster_config())
        workload = make_workload(self.workload, **self.workload_arguments())
        try:
            pids = workload.start(cluster, list(range(self.nodes)))
        except OutOfMemory as error:
            raise OutOfMemory(
                f"{error}: give the nodes more memory with --node-memory (node_memory_bytes)"
            ) from None
        return cluster, pids[0]


def _completion(cluster: Cluster, pid: int) -> float:
    """Run to the end; the process's completion time (exit - spawn request at 0)."""
    exited: dict[str, float] = {}

    def watch() -> Any:
        yield cluster.exit_event(pid)
        exited["at"] = cluster.now

    cluster.env.process(watch())
    cluster.run()
    if "at" not in exited:
        raise RuntimeError(f"process {pid} never exited: the scenario does not terminate")
    return exited["at"]


def baseline_completion(scenario: Scenario, observe: Observer | None = None) -> float:
    """The migrated process's completion time when nobody migrates it."""
    cluster, pid = scenario.start()
    if observe is not None:
        observe("baseline", cluster)
    return _completion(cluster, pid)


def run_migration(
    scenario: Scenario,
    strategy: str,
    params: dict[str, Any] | None = None,
    *,
    baseline: float | None = None,
    observe: Observer | None = None,
) -> MigrationRecord:
    """Run ``scenario`` migrating its process with ``strategy``; the record with slowdown.

    ``baseline`` is the completion time without migration (computed when not given);
    ``observe`` sees the migrated run's cluster before it runs.
    """
    params = dict(params or {})
    make_strategy(strategy, **params)  # bad input fails before anything runs
    if baseline is None:
        baseline = baseline_completion(scenario, observe)
    cluster, pid = scenario.start()
    if observe is not None:
        observe(strategy, cluster)
    out: dict[str, MigrationRecord] = {}

    def driver() -> Any:
        yield cluster.env.timeout(scenario.migrate_at)
        out["record"] = yield migrate(cluster, pid, 1, strategy, **params)

    cluster.env.process(driver())
    completion = _completion(cluster, pid)
    if "record" not in out:
        raise RuntimeError(
            f"the migration of process {pid} did not complete "
            f"(it exited before t={scenario.migrate_at}?)"
        )
    record = out["record"]
    slowdown = completion / baseline if record.ok else None
    return attrs.evolve(record, slowdown=slowdown)


def compare(
    scenario: Scenario,
    strategies: Sequence[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    *,
    observe: Observer | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[MigrationRecord]:
    """Every strategy (default: every registered one) on the same scenario and seed.

    ``progress(done, total)`` is called after each strategy's run.
    """
    names = list(strategies) if strategies is not None else list(registered())
    params = params or {}
    baseline = baseline_completion(scenario, observe)
    records = []
    for name in names:
        records.append(
            run_migration(scenario, name, params.get(name), baseline=baseline, observe=observe)
        )
        if progress is not None:
            progress(len(records), len(names))
    return records


def scenario_value(scenario: Scenario, key: str) -> Any:
    """The value of a scenario key as the result rows hold it."""
    if key == "profile":
        return scenario.profile.name
    if key == "topology":
        return scenario.cluster_config().effective_topology
    if key == "cpu_seconds":
        return scenario.process_cpu_seconds
    return getattr(scenario, key)


def scenario_row(
    scenario: Scenario, record: MigrationRecord, *, files: bool | None = None
) -> dict[str, Any]:
    """One result row: the scenario's knobs, then the record's metrics.

    For a recorded program (``trace:``) the knobs are the trace's own figures on the
    profile: its replayed address space and dirty rate; its touched fraction is 1 (its
    address space holds only the pages it touches). ``files`` (default: the scenario
    has files) adds the file knobs after the seed and the file metrics after the others.
    """
    files = scenario.has_files if files is None else files
    metrics = record.metrics(files=files)
    figures = scenario.trace_figures()
    knobs = {key: getattr(scenario, key) for key in FILE_KNOBS} if files else {}
    return {
        "strategy": record.strategy,
        "profile": scenario.profile.name,
        "workload": scenario.workload,
        "memory_bytes": scenario.memory_bytes if figures is None else figures.memory_bytes,
        "dirty_rate": scenario.dirty_rate if figures is None else round(figures.dirty_rate, 3),
        "touch_fraction": scenario.touch_fraction if figures is None else 1.0,
        "seed": scenario.seed,
        **knobs,
        **{k: v for k, v in metrics.items() if k != "strategy"},
    }


def refusal_advice(scenario: Scenario, record: MigrationRecord) -> str:
    """What to change in ``scenario`` so that the migration ``record`` refused can happen
    (``""`` when nothing in the scenario would help, or the migration was not refused).

    Each piece of advice names the command-line option and, in brackets, the scenario
    field (the key of a sweep config) that sets it.
    """
    reason = record.refused or ""
    if not reason:
        return ""
    computes = "cpu_seconds" in SCENARIO_SETS.get(scenario.workload, {})
    more = (
        "give it more CPU time with --cpu-seconds (cpu_seconds)"
        if computes
        else "give it more work with --workload-param (workload_params)"
    )
    if not math.isnan(record.accepted_at):  # accepted: the process ended on the way
        life = f"it computes for {scenario.process_cpu_seconds:g} CPU-seconds, and its "
        return (
            f"the process ended before its migration did: {life if computes else 'its '}"
            f"{format_size(scenario.process_memory_bytes)} take about "
            f"{scenario.copy_estimate_s():.2g} s to cross the network (precopy sends them "
            f"more than once): {more}"
        )
    if reason.startswith("no process"):
        return (
            f"the process had ended before the request at {scenario.migrate_at:g} s: {more}, "
            "or request the migration earlier with --at (migrate_at)"
        )
    if reason.startswith("not enough memory"):
        return "give the nodes more memory with --node-memory (node_memory_bytes)"
    return ""


@functools.lru_cache(maxsize=64)
def _figures(workload: str, profile: MachineProfile) -> TraceFigures:
    trace = open_trace(workload.removeprefix(TRACE_PREFIX))
    return trace_figures(trace, profile.page_size_bytes, profile.instructions_per_s)

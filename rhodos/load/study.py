"""A load-sharing study: what it is (:class:`LoadShareConfig`) and what it measured.

``migration_cost``:

* ``zero`` -- the kernel charges nothing (:func:`ideal_profile`): messages, page copies,
  state transfer and process creation take no simulated time, so placement and
  migration are free and instantaneous and information is exact when it is asked for.
  Every message is still sent and counted. This is the classic queueing models' world;
  the simulator must reproduce them there.
* ``model`` -- the profile's real costs: a remote exec is a request/reply over the
  network carrying the exec's arguments, a migration freezes the process, copies what
  the chosen strategy copies, leaves what it leaves, and every probe and report costs
  CPU at both ends and time on the wire.

Replications run with seeds spawned from ``seed``; the 95% confidence intervals are
Student-t intervals over the replications' means. :mod:`rhodos.load.run` runs a study.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import attrs
import numpy as np
from scipy import stats

from rhodos.kernel import MachineProfile, load_profile
from rhodos.kernel.profile_fields import MAX_RATE_BPS
from rhodos.load.owner import IdleRule, OwnerModel
from rhodos.load.presets import policy_settings
from rhodos.load.settings import Settings
from rhodos.load.table import LoadStatistics
from rhodos.load.workload import Exponential, Service, TraceReplay, parse_service
from rhodos.migration_manager import make_strategy
from rhodos.workload.catalog import is_trace
from rhodos.workload.pagetrace import TraceFigures, open_trace, trace_figures

__all__ = [
    "COSTS",
    "LoadShareConfig",
    "LoadShareResult",
    "Replication",
    "ideal_profile",
    "replication_seed",
]

#: The ``migration_cost`` choices.
COSTS = ("zero", "model")


def ideal_profile(profile: MachineProfile) -> MachineProfile:
    """``profile`` with every cost of the kernel set to zero, and the bandwidths the
    largest a profile may have (1e13 bit/s, see :mod:`rhodos.kernel.profile_fields`).

    CPU speed, page size and memory are kept: they are the machine, not its overheads.
    A transfer still takes its bytes at that rate: a probe or a remote exec of a few
    hundred bytes about 0.1 ns, a 1 MiB address space 0.8 us, a millionth of the mean
    1 s demand of the queueing models this profile checks.
    """
    immense = MAX_RATE_BPS  # bits per second: a 1 GiB copy takes 0.86 ms
    return attrs.evolve(
        profile,
        name=f"{profile.name}-ideal",
        network_bandwidth_bps=immense,
        network_latency_s=0.0,
        message_cpu_overhead_s=0.0,
        packet_cpu_overhead_s=0.0,
        local_ipc_s=0.0,
        page_fault_trap_s=0.0,
        context_switch_s=0.0,
        state_extract_s=0.0,
        state_install_s=0.0,
        file_server_bandwidth_bps=immense,
        file_server_latency_s=0.0,
    )


@functools.lru_cache(maxsize=32)
def _figures(program: str, page_size: int, instructions_per_s: float) -> TraceFigures:
    trace = open_trace(program.removeprefix("trace:"))
    return trace_figures(trace, page_size, instructions_per_s)


def _program_figures(program: str, profile: MachineProfile) -> TraceFigures:
    """A recorded program's figures on ``profile`` (raises ValueError if it is absent)."""
    return _figures(program, profile.page_size_bytes, profile.instructions_per_s)


def _to_tags(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _to_service(value: Service | str) -> Service:
    return parse_service(value) if isinstance(value, str) else value


@attrs.frozen
class LoadShareConfig:
    """One load-sharing study: the cluster, the workload, the policy, how long, how often.

    ``problems()`` lists what is wrong with it (empty: it can run); the command line
    prints the first and exits before running anything.
    """

    nodes: int = 4
    arrival_rate: float = 0.5
    service: Service = attrs.field(factory=Exponential, converter=_to_service)
    policy: str = "none"
    d: int | None = None
    threshold: int | None = None
    probe_limit: int | None = None
    information: str | None = None
    transfer: str | None = None
    location: str | None = None
    selection: str | None = None
    strategy: str = "eager"
    migration_cost: str = "zero"
    profile: MachineProfile | str = "sun3-ethernet"
    duration_s: float = 100.0
    warmup_s: float = 10.0
    replications: int = 1
    seed: int = 0
    memory_bytes: int = 0
    #: Pages each process dirties per CPU second (0: it computes without touching its
    #: memory); with ``memory_bytes`` it makes a migration move real state.
    dirty_rate: float = 0.0
    #: The program names of the ``names`` selection policy (long-lived programs).
    names: tuple[str, ...] | None = attrs.field(default=None, converter=_to_tags)
    architectures: tuple[str, ...] | None = attrs.field(default=None, converter=_to_tags)
    trader: int = 0
    offer_period_s: float = 5.0
    #: One profile per node (names or profiles; ``None``: ``profile`` everywhere); the
    #: network and message costs are ``profile``'s.
    node_profiles: tuple[MachineProfile | str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple)
    )
    #: Replay a trace's arrivals instead of Poisson streams (``arrival_rate`` and
    #: ``service`` are then unused).
    replay: TraceReplay | None = None
    #: A recorded program (``trace:NAME`` or ``trace:PATH``, a page trace) that every
    #: process runs, ``loops`` times through its trace: its CPU demand and address space
    #: are then the program's own on its node's profile (``service``, ``memory_bytes``
    #: and ``dirty_rate`` are not given with it).
    program: str | None = None
    loops: int = 1
    #: Idle workstations: every node has an owner whose sessions these are (``None``: no
    #: owners). Work then goes only to hosts idle by ``idle`` (Sprite's rule when
    #: ``None``), and guests are evicted by ``strategy`` when an owner returns.
    owners: OwnerModel | None = None
    idle: IdleRule | None = None

    @property
    def rho(self) -> float:
        """The offered load per node: arrival rate times mean demand (or the replayed
        trace's CPU seconds per node and second)."""
        if self.replay is not None:
            return self.replay.load(self.nodes)
        if self.program is not None:
            return self.arrival_rate * self.program_demand(self.machine())
        return self.arrival_rate * self.service.mean

    @property
    def mean_demand(self) -> float:
        """The mean CPU demand of a process on ``profile`` (seconds)."""
        if self.program is not None:
            return self.program_demand(self.machine())
        return self.service.mean

    def program_demand(self, profile: MachineProfile) -> float:
        """The CPU seconds a process running :attr:`program` needs on ``profile``."""
        assert self.program is not None
        return self.loops * _program_figures(self.program, profile).cpu_seconds

    def program_pages(self, profile: MachineProfile) -> int:
        """The pages of :attr:`program`'s address space on ``profile``."""
        assert self.program is not None
        return _program_figures(self.program, profile).pages

    def _program_problems(self) -> list[str]:
        """What is wrong with :attr:`program` and the keys it excludes."""
        if self.program is None:
            return []
        if not isinstance(self.program, str) or not is_trace(self.program):
            return [
                "program must be a recorded program, trace:NAME or trace:PATH, "
                f"got {self.program!r}"
            ]
        if isinstance(self.loops, bool) or not isinstance(self.loops, int) or self.loops < 1:
            return [f"loops must be an integer >= 1 (each process exits), got {self.loops!r}"]
        clash = [
            key
            for key, given in (
                ("service", self.service != Exponential()),
                ("memory", self.memory_bytes != 0),
                ("dirty_rate", self.dirty_rate != 0),
                ("replay", self.replay is not None),
            )
            if given
        ]
        if clash:
            return [
                f"{', '.join(clash)} cannot be given with program = {self.program}: the "
                "recorded program sets each process's CPU demand, address space and writes"
            ]
        try:
            machines = self.node_machines() or (self.machine(),)
            for machine in machines:
                pages = self.program_pages(machine)
                frames = machine.memory_bytes // machine.page_size_bytes
                if pages > frames:
                    return [
                        f"{self.program} needs {pages:,} pages, more than the {frames:,} of a "
                        f"{machine.name} node"
                    ]
        except ValueError as error:
            return [str(error)]
        return []

    def machine(self) -> MachineProfile:
        """The profile the run uses: the given one, or its ideal twin for ``zero`` costs."""
        profile = self.profile
        if not isinstance(profile, MachineProfile):
            profile = load_profile(profile)
        return ideal_profile(profile) if self.migration_cost == "zero" else profile

    def node_machines(self) -> tuple[MachineProfile, ...] | None:
        """Each node's profile (ideal twins for ``zero`` costs), or ``None``."""
        if self.node_profiles is None:
            return None
        made = [p if isinstance(p, MachineProfile) else load_profile(p) for p in self.node_profiles]
        zero = self.migration_cost == "zero"
        return tuple(ideal_profile(p) if zero else p for p in made)

    def settings(self) -> Settings:
        """The Load Managers' settings: the preset, its knobs, the strategy (and the idle
        rule, with owners)."""
        settings = policy_settings(
            self.policy,
            threshold=self.threshold,
            probe_limit=self.probe_limit,
            d=self.d,
            names=self.names,
            information=self.information,
            transfer=self.transfer,
            location=self.location,
            selection=self.selection,
            strategy=make_strategy(self.strategy),
            trader=self.trader,
            offer_period_s=self.offer_period_s,
        )
        if self.owners is None:
            return settings
        return attrs.evolve(settings, idle=self.idle or IdleRule())

    def problems(self) -> list[str]:
        """What is wrong with this configuration, one line each (empty: it can run)."""
        found = []
        if not isinstance(self.nodes, int) or self.nodes < 1:
            found.append(f"--nodes must be an integer >= 1, got {self.nodes!r}")
        program = self._program_problems()
        if program:
            return program
        if not (math.isfinite(self.arrival_rate) and self.arrival_rate > 0):
            found.append(f"--arrival-rate must be a number > 0, got {self.arrival_rate!r}")
        elif self.replay is None and self.rho >= 1:
            found.append(
                f"the offered load per node is {self.rho:.3g} (arrival rate {self.arrival_rate:g} "
                f"x mean demand {self.mean_demand:.3g} s): at 1 or more the queues grow without "
                f"bound; use --arrival-rate below {1 / self.mean_demand:.3g}"
            )
        if self.migration_cost not in COSTS:
            found.append(
                f"--migration-cost must be one of {', '.join(COSTS)}, got {self.migration_cost!r}"
            )
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            found.append(f"--duration must be a number > 0, got {self.duration_s!r}")
        elif not (0 <= self.warmup_s < self.duration_s):
            found.append(
                f"--warmup must be >= 0 and below --duration ({self.duration_s:g}), "
                f"got {self.warmup_s!r}"
            )
        if (
            isinstance(self.dirty_rate, bool)
            or not isinstance(self.dirty_rate, int | float)
            or not (math.isfinite(self.dirty_rate) and self.dirty_rate >= 0)
        ):
            found.append(f"dirty_rate must be a number >= 0, got {self.dirty_rate!r}")
        if not isinstance(self.replications, int) or self.replications < 1:
            found.append(f"--replications must be an integer >= 1, got {self.replications!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            found.append(f"--seed must be an integer >= 0, got {self.seed!r}")
        if self.architectures is not None and len(self.architectures) != self.nodes:
            found.append(
                f"architectures must give one tag per node ({self.nodes}), "
                f"got {len(self.architectures)}"
            )
        knobs = (
            ("--d", self.d),
            ("--threshold", self.threshold),
            ("--probe-limit", self.probe_limit),
        )
        for knob, value in knobs:
            if value is not None and (not isinstance(value, int) or value < 1):
                found.append(f"{knob} must be an integer >= 1, got {value!r}")
        if found:
            return found
        if self.node_profiles is not None and len(self.node_profiles) != self.nodes:
            found.append(
                f"node_profiles must give one profile per node ({self.nodes}), "
                f"got {len(self.node_profiles)}"
            )
            return found
        try:
            self.machine()
            self.node_machines()
            found += self.settings().problems(self.nodes)
        except ValueError as error:
            found.append(str(error))
        return found


@attrs.frozen
class Replication:
    """What one run measured."""

    seed: int
    processes: int
    mean_response_s: float
    mean_slowdown: float
    #: Mean time a process spent not running on a CPU: response minus demand.
    mean_delay_s: float
    frac_slowdown_gt3: float
    frac_migrated: float
    refused: int
    unfinished: int
    simulated_s: float
    wall_s: float
    cpu_s: float
    load: LoadStatistics
    messages_by_kind: dict[str, int]
    #: Mean response time of the processes that arrived at each node (NaN: none did).
    node_mean_response_s: tuple[float, ...] = ()


def _ci95(values: list[float]) -> float | None:
    """Half-width of the Student-t 95% interval of the mean of ``values`` (None below 2)."""
    if len(values) < 2:
        return None
    spread = float(np.std(values, ddof=1))
    return float(stats.t.ppf(0.975, len(values) - 1) * spread / math.sqrt(len(values)))


@attrs.frozen
class LoadShareResult:
    """A study's replications and their summary."""

    config: LoadShareConfig
    replications: tuple[Replication, ...]

    def _mean(self, field: str) -> float:
        return float(np.mean([getattr(r, field) for r in self.replications]))

    @property
    def mean_response_s(self) -> float:
        """Mean response time, averaged over the replications."""
        return self._mean("mean_response_s")

    @property
    def mean_slowdown(self) -> float:
        """Mean slowdown, averaged over the replications."""
        return self._mean("mean_slowdown")

    @property
    def mean_delay_s(self) -> float:
        """Mean delay (response minus demand), averaged over the replications."""
        return self._mean("mean_delay_s")

    @property
    def frac_slowdown_gt3(self) -> float:
        """Fraction of processes slowed down more than 3 times."""
        return self._mean("frac_slowdown_gt3")

    @property
    def frac_migrated(self) -> float:
        """Fraction of processes that ran away from their arrival node."""
        return self._mean("frac_migrated")

    @property
    def processes(self) -> int:
        """Measured processes, over all replications."""
        return sum(r.processes for r in self.replications)

    def ci95(self, field: str) -> float | None:
        """The 95% half-width of ``field`` over the replications (None with one)."""
        return _ci95([getattr(r, field) for r in self.replications])

    def as_json(self) -> dict[str, Any]:
        """The summary the command prints with ``--json``."""
        messages: dict[str, int] = {}
        for rep in self.replications:
            for kind, count in rep.messages_by_kind.items():
                messages[kind] = messages.get(kind, 0) + count
        return {
            "mean_response_s": self.mean_response_s,
            "mean_slowdown": self.mean_slowdown,
            "frac_slowdown_gt3": self.frac_slowdown_gt3,
            "frac_migrated": self.frac_migrated,
            "ci95_mean_response_s": self.ci95("mean_response_s"),
            "ci95_mean_slowdown": self.ci95("mean_slowdown"),
            "processes": self.processes,
            "replications": len(self.replications),
            "rho": self.config.rho,
            "refused": sum(r.refused for r in self.replications),
            "unfinished": sum(r.unfinished for r in self.replications),
            "migrations": sum(r.load.migrations_completed for r in self.replications),
            "remote_execs": sum(r.load.placed_remote for r in self.replications),
            "network_messages": messages,
            "wall_s": sum(r.wall_s for r in self.replications),
            "cpu_s": sum(r.cpu_s for r in self.replications),
        }


def replication_seed(seed: int, replication: int) -> int:
    """The cluster seed of replication ``replication`` of a study seeded ``seed``."""
    state = np.random.SeedSequence([seed, replication]).generate_state(1, dtype=np.uint32)
    return int(state[0])

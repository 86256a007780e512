"""The conformance suite every migration strategy must pass: scenarios run on a harness."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any, cast

import attrs
import simpy

from rhodos.migration_manager import MigrationRecord, register, registered, unregister
from rhodos.system import boot
from rhodos.testing.harness import Harness

__all__ = [
    "ConformanceResult",
    "ConformanceScenario",
    "check_strategy",
    "conformance_scenarios",
    "run_conformance",
]

ScenarioDriver = Callable[[Harness, str], Generator[simpy.events.Event, Any, None]]


@attrs.frozen
class ConformanceScenario:
    """A named workload with migrations, run on a fresh harness for one strategy."""

    name: str
    summary: str
    nodes: int
    drive: ScenarioDriver = attrs.field(repr=False)


@attrs.frozen
class ConformanceResult:
    """One strategy on one scenario: its migration records and every violation found."""

    strategy: str
    scenario: str
    seed: int
    records: tuple[MigrationRecord, ...]
    violations: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No violation was found."""
        return not self.violations


def _memory_mid_run(h: Harness, strategy: str) -> Generator[simpy.events.Event, Any, None]:
    pid = h.spawn_memory(0, cpu_seconds=1.0, dirty_rate=600.0, sweep_every=0)
    yield h.env.timeout(0.1)
    yield h.migrate(pid, 1, strategy)


def _pair_both_ways(h: Harness, strategy: str) -> Generator[simpy.events.Event, Any, None]:
    a, _b = h.spawn_pair(0, 1, rounds=30)
    h.spawn_stream(1, 0, chunks=80)
    yield h.env.timeout(0.06)
    yield h.migrate(a, 2, strategy)


def _server_migrated(h: Harness, strategy: str) -> Generator[simpy.events.Event, Any, None]:
    server, _clients = h.spawn_server(0, [1, 2, 3], requests=12)
    yield h.env.timeout(0.08)
    yield h.migrate(server, 1, strategy)


def _files_mid_run(h: Harness, strategy: str) -> Generator[simpy.events.Event, Any, None]:
    pid = h.spawn_files(0, files=3, blocks=12, cpu_seconds=0.4)
    h.spawn_memory(0, cpu_seconds=0.5, dirty_rate=300.0, sweep_every=0)
    yield h.env.timeout(0.1)
    yield h.migrate(pid, 1, strategy)


def _route(
    h: Harness, pid: int, route: Sequence[int], strategy: str
) -> Generator[simpy.events.Event, Any, None]:
    """Migrate ``pid`` along ``route``, each hop as soon as the last one allows.

    A request refused because the last migration is not complete yet is asked again a
    little later; any other refusal, or the process exiting first, is a violation.
    """
    for target in route:
        while True:
            event = h.migrate(pid, target, strategy)
            while not event.triggered:
                here = h.cluster.location_of.get(pid)
                if here == target and pid in h.cluster.node(target).threads:
                    break
                yield h.env.timeout(0.001)
            if not event.triggered:
                break  # running on the target
            record = cast(MigrationRecord, event.value)
            if record.refused is None or "already migrating" not in record.refused:
                h.problems.append(
                    f"route of process {pid} stopped before node {target}: "
                    f"{record.refused or 'it exited'}"
                )
                return
            yield h.env.timeout(0.005)


def _round_trip(h: Harness, strategy: str) -> Generator[simpy.events.Event, Any, None]:
    pid = h.spawn_memory(0, cpu_seconds=2.0, dirty_rate=500.0)
    talker, _other = h.spawn_pair(0, 3, rounds=150)
    yield h.env.timeout(0.05)
    yield h.env.process(_route(h, pid, (1, 2, 0), strategy)) & h.env.process(
        _route(h, talker, (1, 2, 0), strategy)
    )


_SCENARIOS = (
    ConformanceScenario(
        "memory",
        "a process writing its pages fast is migrated mid-run",
        2,
        _memory_mid_run,
    ),
    ConformanceScenario(
        "pair",
        "one side of a two-way conversation (and a stream's receiver) is migrated",
        3,
        _pair_both_ways,
    ),
    ConformanceScenario(
        "server",
        "a request/reply server with clients on three other nodes is migrated",
        4,
        _server_migrated,
    ),
    ConformanceScenario(
        "files",
        "a process with open files and dirty file blocks is migrated mid-run",
        2,
        _files_mid_run,
    ),
    ConformanceScenario(
        "round-trip",
        "a memory writer and a talker are migrated 0->1, 1->2 and back home 2->0",
        4,
        _round_trip,
    ),
)


def conformance_scenarios() -> list[ConformanceScenario]:
    """The scenarios every strategy must pass."""
    return list(_SCENARIOS)


def run_conformance(
    strategy: str,
    scenario: str | ConformanceScenario,
    seed: int = 0,
    *,
    profile: str = "sparc-ethernet",
    limit_s: float = 30.0,
) -> ConformanceResult:
    """Run ``scenario`` with ``strategy`` on a fresh cluster and check every invariant."""
    chosen = scenario if isinstance(scenario, ConformanceScenario) else _scenario(scenario)
    harness = Harness(boot(nodes=chosen.nodes, seed=seed, profile=profile))
    driver = harness.env.process(chosen.drive(harness, strategy))
    harness.cluster.run(until=harness.env.any_of([driver, harness.env.timeout(limit_s)]))
    violations = harness.finish(limit_s=limit_s)
    if not driver.triggered:
        violations.append(f"scenario {chosen.name} did not finish")
    elif not driver.ok:
        driver.defused = True
        violations.append(f"scenario {chosen.name} raised {driver.value!r}")
    return ConformanceResult(
        strategy=strategy,
        scenario=chosen.name,
        seed=seed,
        records=tuple(harness.records),
        violations=tuple(violations),
    )


def _scenario(name: str) -> ConformanceScenario:
    for scenario in _SCENARIOS:
        if scenario.name == name:
            return scenario
    names = ", ".join(s.name for s in _SCENARIOS)
    raise ValueError(f"unknown conformance scenario {name!r}; scenarios: {names}")


def check_strategy(
    strategy: str | type[Any],
    *,
    seed: int = 1,
    profile: str = "sparc-ethernet",
    limit_s: float = 30.0,
) -> list[ConformanceResult]:
    """Run every conformance scenario on ``strategy``: one result per scenario.

    ``strategy`` is a registered name, or a strategy class, which is registered for the
    run if it is not already (and unregistered afterwards)::

        from rhodos.testing import check_strategy

        for result in check_strategy(WorkingSet):
            assert result.ok, result.violations
    """
    if isinstance(strategy, str):
        name, temporary = strategy, False
    else:
        name = strategy.name
        known = registered().get(name)
        if known is not None and known is not strategy:
            raise ValueError(
                f"another strategy is registered as {name!r} ({known.__qualname__}); "
                "rename one of them"
            )
        temporary = known is None
        if temporary:
            register(strategy)
    try:
        return [
            run_conformance(name, scenario, seed, profile=profile, limit_s=limit_s)
            for scenario in _SCENARIOS
        ]
    finally:
        if temporary:
            unregister(name)

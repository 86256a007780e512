"""Specification every migration strategy must meet: the invariants of DESIGN.md.

Parametrised over the strategy registry, so a strategy is held to them the moment it is
registered. The oracles and checkers are public (``rhodos.testing``); the last part of
this file checks that the checkers do catch what they claim to.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import numpy as np
import pytest
import simpy

from rhodos.kernel import ClusterConfig, Compute, Sleep, Thread
from rhodos.migration_manager import MigrationRecord, UnknownStrategy, registered
from rhodos.system import boot, migrate
from rhodos.testing import (
    Harness,
    MemoryOracle,
    MessageLog,
    StreamReceiver,
    StreamSender,
    check_record,
    check_single_location,
    conformance_scenarios,
    page_versions,
    run_conformance,
)
from rhodos.workload import ProgramContext, ProgramGenerator

Gen = Generator[simpy.events.Event, Any, Any]
STRATEGIES = sorted(registered())
SCENARIOS = [scenario.name for scenario in conformance_scenarios()]
KIB, MIB = 1024, 1024 * 1024


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_keeps_every_invariant(strategy: str, scenario: str) -> None:
    """One location at every instant, exactly-once FIFO messages, memory, residual, metrics."""
    result = run_conformance(strategy, scenario, seed=3)
    assert result.violations == ()
    assert any(record.ok for record in result.records), "the scenario migrated nothing"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_round_trip_completes_its_route(strategy: str) -> None:
    """Back-to-back migrations 0->1->2->0: every hop happens, for both processes."""
    result = run_conformance(strategy, "round-trip", seed=5)
    assert result.violations == ()
    hops = sorted((r.pid, r.source, r.destination) for r in result.records if r.ok)
    assert hops == [(pid, a, b) for pid in (1, 2) for a, b in ((0, 1), (1, 2), (2, 0))]
    refusals = {r.refused for r in result.records if not r.ok}
    assert all("already migrating" in str(reason) for reason in refusals)


# -- refusals: a migration that cannot happen is a record, not an exception ---------------


@attrs.frozen
class Idle:
    """A program that owns ``memory_bytes`` and sleeps for ``seconds``."""

    memory_bytes: int = 64 * KIB
    seconds: float = 1.0
    name: str = "idle"

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield Sleep(self.seconds)


def refusal(h: Harness, pid: int, dest: int, strategy: str = "eager", at: float = 0.05) -> str:
    """Ask for a migration at ``at``; run until it answers; return its refusal."""
    out: list[MigrationRecord] = []

    def ask() -> Gen:
        yield h.env.timeout(at - h.env.now)
        out.append((yield h.migrate(pid, dest, strategy)))

    process = h.env.process(ask())
    h.cluster.run(until=process)
    [record] = out
    assert record.refused is not None
    return record.refused


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_migration_to_the_node_it_runs_on_is_refused(strategy: str) -> None:
    """Same node as destination: refused, and the process runs on undisturbed."""
    h = Harness.boot(nodes=2)
    pid = h.spawn_memory(0, cpu_seconds=0.2)
    assert "already runs on" in refusal(h, pid, 0, strategy)
    assert h.finish() == []


def test_migration_to_a_down_node_is_refused() -> None:
    """The destination does not answer the negotiation: refused as down."""
    h = Harness.boot(nodes=3)
    pid = h.spawn_memory(0, cpu_seconds=1.5)
    h.cluster.set_node_up(2, False)
    assert "down" in refusal(h, pid, 2)
    assert h.finish() == []


def test_migration_to_another_architecture_is_refused() -> None:
    """A process built for one architecture is not moved to another."""
    archs = ("a", "a", "b")
    h = Harness(boot(ClusterConfig(), nodes=3, profile="sparc-ethernet", architectures=archs))
    pid = h.spawn_memory(0, cpu_seconds=0.3)
    reason = refusal(h, pid, 2)
    assert "node 2 is b" in reason and "built for a" in reason
    assert h.finish() == []


def test_migration_to_a_node_without_enough_memory_is_refused() -> None:
    """The destination has fewer free frames than the process has pages."""
    h = Harness.boot(nodes=2)
    frames = h.cluster.node(1).frames_total
    h.spawn(Idle(memory_bytes=(frames - 10) * h.cluster.profile.page_size_bytes), 1)
    pid = h.spawn_memory(0, cpu_seconds=0.3)
    assert "not enough memory on node 1" in refusal(h, pid, 1)
    assert h.finish() == []


def test_migration_of_a_process_that_does_not_exist_is_refused() -> None:
    """No such pid anywhere: refused."""
    h = Harness.boot(nodes=2)
    assert "no process 999" in refusal(h, 999, 1)


def test_migration_of_an_exited_process_is_refused() -> None:
    """The process has already exited: refused (not a crash)."""
    h = Harness.boot(nodes=2)
    pid = h.spawn(Idle(seconds=0.01), 0)
    assert "no process" in refusal(h, pid, 1, at=0.1)
    assert h.finish() == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_second_request_while_migrating_is_refused(strategy: str) -> None:
    """Two requests for one process at the same instant: the second is refused."""
    h = Harness.boot(nodes=3)
    pid = h.spawn_memory(0, cpu_seconds=1.5)
    records: list[MigrationRecord] = []

    def ask() -> Gen:
        yield h.env.timeout(0.05)
        first, second = h.migrate(pid, 1, strategy), h.migrate(pid, 2, strategy)
        records.append((yield second))
        records.append((yield first))

    h.env.process(ask())
    assert h.finish() == []
    assert "already migrating" in str(records[0].refused)
    assert records[1].ok and h.cluster.location_of[pid] == 1


@pytest.mark.parametrize("strategy", ["copy-on-reference", "postcopy", "freeze-free"])
def test_moving_on_before_the_residual_dependency_ends_is_refused(strategy: str) -> None:
    """A process still depending on the node it left is still migrating: refused, not broken."""
    h = Harness.boot(nodes=3)
    pid = h.spawn_memory(0, cpu_seconds=1.5, sweep_every=0)
    reasons: list[str | None] = []

    def ask() -> Gen:
        yield h.env.timeout(0.05)
        h.migrate(pid, 1, strategy)
        while pid not in h.cluster.node(1).threads:
            yield h.env.timeout(0.0005)
        again = yield h.migrate(pid, 2, strategy)
        reasons.append(again.refused)

    h.env.process(ask())
    assert h.finish() == []
    assert "already migrating" in str(reasons[0])


def exit_time(cpu_seconds: float) -> float:
    """When a memory oracle of ``cpu_seconds`` exits if nobody migrates it."""
    h = Harness.boot(nodes=2)
    pid = h.spawn_memory(0, cpu_seconds=cpu_seconds, sweep_every=0)
    h.cluster.run(until=h.cluster.exit_event(pid))
    return h.cluster.now


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_process_exiting_while_its_migration_prepares_is_a_refusal(strategy: str) -> None:
    """It exits before it can be frozen: a refusal saying so, and nothing is left anywhere."""
    reasons = []
    end = exit_time(0.1)
    for at in end - 0.0005 * np.arange(16):  # requests ever closer to its exit
        h = Harness.boot(nodes=2)
        pid = h.spawn_memory(0, cpu_seconds=0.1, sweep_every=0)

        def ask(h: Harness = h, pid: int = pid, at: float = float(at)) -> Gen:
            yield h.env.timeout(at)
            reasons.append((yield h.migrate(pid, 1, strategy)).refused)

        h.env.process(ask())
        assert h.finish() == []
    assert any(reason is not None and "exited" in reason for reason in reasons)


@attrs.frozen
class Burst:
    """A program that computes for ``seconds`` and exits (it touches no page)."""

    seconds: float = 0.1
    memory_bytes: int = 32 * KIB
    name: str = "burst"

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield Compute(self.seconds)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_process_exiting_right_after_its_resume_leaves_nothing_behind(strategy: str) -> None:
    """Exit moments after the resume -- before a one-way communication state arrives, say."""
    for at in 0.1 - 0.0005 * np.arange(1, 12):
        h = Harness.boot(nodes=2)
        pid = h.spawn(Burst(0.1), 0)

        def ask(h: Harness = h, pid: int = pid, at: float = float(at)) -> Gen:
            yield h.env.timeout(at)
            yield h.migrate(pid, 1, strategy)

        h.env.process(ask())
        assert h.finish() == [], at


def test_moving_on_while_the_communication_state_is_still_on_its_way() -> None:
    """A big mailbox moved one-way may still be on the wire when the process may leave again."""
    h = Harness.boot(nodes=3)
    rx = h.spawn(StreamReceiver(h.messages, chunks=150, compute_s=0.1), 0)
    h.spawn(StreamSender(h.messages, chunks=150, compute_s=0.003), 1, peers={"peer": rx})
    hops: list[MigrationRecord] = []

    def ask() -> Gen:
        yield h.env.timeout(0.5)
        hops.append((yield from first_hop()))

    def first_hop() -> Gen:
        h.migrate(rx, 2, "freeze-free")
        while rx not in h.cluster.node(2).threads:
            yield h.env.timeout(0.0002)
        while True:  # ask again until the first migration lets it go
            again = h.migrate(rx, 1, "eager")
            yield h.env.timeout(0.0005)
            if not again.triggered:
                return again

    h.env.process(ask())
    assert h.finish() == []
    assert [(r.source, r.destination) for r in h.records if r.ok] == [(0, 2), (2, 1)]


@pytest.mark.parametrize("strategy", ["copy-on-reference", "postcopy"])
def test_a_source_holding_no_page_ends_its_residual_dependency_at_once(strategy: str) -> None:
    """Pages all on the file server (it came by flushing, touched nothing): nothing to serve."""
    h = Harness.boot(nodes=3)
    pid = h.spawn(Burst(0.6), 0)

    def ask() -> Gen:
        yield h.env.timeout(0.05)
        yield from hop(1, "flushing")
        yield from hop(2, strategy)

    def hop(dest: int, chosen: str) -> Gen:
        while True:
            event = h.migrate(pid, dest, chosen)
            yield h.env.timeout(0.005)
            if not event.triggered:
                return

    h.env.process(ask())
    assert h.finish() == []
    [first, second] = [r for r in h.records if r.ok]
    assert (first.strategy, second.source, second.destination) == ("flushing", 1, 2)
    assert second.residual_end_at < second.resumed_at + 0.01


def test_an_unknown_strategy_raises_and_lists_the_registered_ones() -> None:
    """Bad input, not a refusal: the error lists every registered strategy."""
    cluster = boot(nodes=2, profile="sparc-ethernet")
    with pytest.raises(UnknownStrategy) as error:
        migrate(cluster, 1, 1, "nope")
    for name in STRATEGIES:
        assert name in str(error.value)


def test_an_unknown_strategy_parameter_names_the_allowed_ones() -> None:
    """An unknown parameter raises, naming the strategy's parameters."""
    cluster = boot(nodes=2, profile="sparc-ethernet")
    with pytest.raises(UnknownStrategy, match="has no parameter 'rounds'") as error:
        migrate(cluster, 1, 1, "precopy", rounds=3)
    for field in attrs.fields(registered()["precopy"]):
        assert field.name in str(error.value)


# -- the checkers catch what they claim to ----------------------------------------------


def test_page_versions_finds_a_page_that_was_written_but_not_moved() -> None:
    """The memory oracle's check reports a page whose version differs from the writes."""
    h = Harness.boot(nodes=2)
    oracle = MemoryOracle(h.cluster, cpu_seconds=0.05)
    pid = h.spawn(oracle, 0)
    h.cluster.run(until=0.03)
    versions, problems = page_versions(h.cluster, pid)
    assert problems == [] and versions.size == 24
    space = h.cluster.node(0).debug_server("memory").spaces[pid]
    space.version[5] += 1  # a lost write, as a buggy transfer would leave it
    assert h.finish() != []
    assert any("page 5 is" in v for v in oracle.violations)


def test_page_versions_reports_a_page_located_where_nothing_holds_it() -> None:
    """A page mapped at a node that holds no copy is lost."""
    h = Harness.boot(nodes=2)
    pid = h.spawn_memory(0, cpu_seconds=0.05)
    h.cluster.run(until=0.03)
    space = h.cluster.node(0).debug_server("memory").spaces[pid]
    space.evict(np.array([3]), 1)
    _, problems = page_versions(h.cluster, pid)
    assert problems == [
        f"process {pid}: pages [3] located at node 1, which holds no copy of its address space"
    ]


def test_check_single_location_sees_two_threads_and_a_missing_pcb() -> None:
    """A thread on a second node, or no PCB where the process is committed, is reported."""
    h = Harness.boot(nodes=2)
    pid = h.spawn(Idle(seconds=1.0), 0)
    h.cluster.run(until=0.01)
    assert check_single_location(h.cluster, [pid]) == []
    thread: Thread = h.cluster.node(0).threads[pid]
    h.cluster.node(1).threads[pid] = thread
    assert "threads on nodes [0, 1]" in check_single_location(h.cluster, [pid])[0]
    del h.cluster.node(1).threads[pid]
    pcb = h.cluster.node(0).debug_server("process").pcbs.pop(pid)
    assert "no PCB" in check_single_location(h.cluster, [pid])[0]
    h.cluster.node(0).debug_server("process").pcbs[pid] = pcb


def test_check_record_catches_each_broken_metric() -> None:
    """freeze > latency, latency > total, too few bytes, and residual time when none is promised."""
    good = MigrationRecord(
        strategy="eager",
        pid=1,
        source=0,
        destination=1,
        requested_at=1.0,
        accepted_at=1.1,
        frozen_at=1.2,
        resumed_at=1.5,
        residual_end_at=1.5,
        bytes_by_kind={"state": 5000},
        state_bytes=3072,
    )
    eager = registered()["eager"]
    assert check_record(good, eager) == []
    broken = {
        "freeze": attrs.evolve(good, frozen_at=1.0),
        "latency": attrs.evolve(good, requested_at=1.2),
        "bytes": attrs.evolve(good, bytes_by_kind={"state": 100}),
        "residual": attrs.evolve(good, residual_end_at=2.0),
    }
    for what, record in broken.items():
        assert any(what in problem for problem in check_record(record, eager)), what


def test_message_log_catches_duplicates_reordering_and_losses() -> None:
    """A channel must receive a prefix of what it sent, in order, once; at the end, all."""
    log = MessageLog()
    for body in ("a", "b", "c"):
        log.on_send(1, 2, body)
    log.on_receive(1, 2, "a")
    assert log.violations() == []
    assert "never received" in log.violations(final=True)[0]
    log.on_receive(1, 2, "c")
    assert "delivery 1 was 'c', expected 'b'" in log.violations()[0]
    duplicate = MessageLog()
    duplicate.on_send(1, 2, "a")
    duplicate.on_receive(1, 2, "a")
    duplicate.on_receive(1, 2, "a")
    assert "duplicate" in duplicate.violations()[0]

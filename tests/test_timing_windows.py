"""The invariants hold at the edges of timing: each race adversarial testing found, replayed.

Every test here is a race that once broke an invariant: a page served while still on the
wire, a communication state still in flight when the process is frozen again, a
negotiation that outlived its timeout, a freeze at the exit instant, a release that
overtook a flush. Each replays the instants that broke it (scanning them where the
window is narrow) and asserts that every invariant the harness checks holds, and that
every migration ends with a record.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import numpy as np
import pytest
import simpy

from rhodos.kernel import Exit, HomeCall, MachineProfile, Sleep
from rhodos.migration_manager import MigrationRecord, register, unregister
from rhodos.system import boot, spawn
from rhodos.testing import (
    Harness,
    StreamReceiver,
    StreamSender,
    ipc_view,
    migration_view,
    slow_latency,
    zero_cpu,
)
from rhodos.testing.broken import DropsThePages
from rhodos.testing.programs import (
    CallThenExit,
    Hub,
    LateSender,
    OneShot,
    SleepThenExit,
    Toucher,
)

Gen = Generator[simpy.events.Event, Any, None]
KIB = 1024


def may_leave(h: Harness, pid: int, node: int) -> bool:
    """``pid`` runs on ``node`` and its migration there is complete (it may migrate again)."""
    return (
        pid in h.cluster.node(node).threads and pid not in migration_view(h.cluster, node).incoming
    )


def ok(record: MigrationRecord) -> bool:
    """The migration happened and did not fail."""
    return record.refused is None and getattr(record, "failed", None) is None


# -- a page served while it is still on the wire -------------------------------------------


@pytest.mark.parametrize("dest", [2, 0], ids=["to-a-third-node", "back-to-the-source"])
def test_a_lazy_copy_then_an_eager_one_loses_no_page(dest: int) -> None:
    """Copy-on-reference 0 -> 1, then precopy 1 -> ``dest`` the moment node 1 may let the
    process go: the last page served by node 0 is still on the wire then; it must arrive,
    and the page map precopy sends must not point at a node that holds nothing.

    With every CPU cost 0 the control path is faster than one page on the wire.
    """
    h = Harness(boot(nodes=3, profile=zero_cpu(), seed=0))
    pid = h.spawn_memory(0, cpu_seconds=0.6, dirty_rate=0.0, sweep_every=1, memory_bytes=64 * KIB)
    onward: list[MigrationRecord] = []

    def driver() -> Gen:
        yield h.env.timeout(0.1)
        h.migrate(pid, 1, "copy-on-reference")
        while not may_leave(h, pid, 1):
            yield h.env.timeout(1e-5)
        onward.append((yield h.migrate(pid, dest, "precopy")))

    h.env.process(driver())
    assert h.finish(limit_s=5.0) == []
    assert [ok(r) for r in onward] == [True]
    assert [ok(r) for r in h.records] == [True, True]


def test_a_truly_lost_page_reports_the_process_lost_instead_of_looping() -> None:
    """A page located at a node that holds no copy of it is lost: the process is reported
    lost with the page named, after one fault, and the run goes on (no endless fault loop)."""
    register(DropsThePages)
    try:
        h = Harness.boot(nodes=2)
        pid = h.spawn(Toucher(), 0)

        def driver() -> Gen:
            yield h.env.timeout(0.05)
            yield h.migrate(pid, 1, DropsThePages.name)

        h.env.process(driver())
        violations = h.finish(limit_s=5.0)
    finally:
        unregister(DropsThePages.name)
    assert h.cluster.exit_event(pid).triggered
    assert any("lost" in v and f"process {pid}" in v for v in violations), violations
    misses = [e for e in h.cluster.log.select(component="memory") if e.event == "fetch-miss"]
    assert len(misses) <= 1
    assert h.env.now < 2.0


# -- a communication state still in flight when the process is frozen again --------------


def test_a_freeze_while_the_communication_state_is_in_flight_does_not_deadlock() -> None:
    """A hub with 1,000 correspondents (a ~32 KB communication state) blocked in Receive is
    moved with freeze-free, then with eager as soon as allowed: the second freeze must not
    wait for the hub's last message (which eager would hold), and the hub gets it."""
    late = 7.5
    h = Harness(boot(nodes=6, profile="sparc-ethernet", seed=0))
    hub = h.spawn(Hub(1000), 0)
    for i in range(1000):
        spawn(h.cluster, OneShot(), 3 + i % 3, peers={"hub": hub})
    h.spawn(LateSender(late), 3, peers={"hub": hub})
    second: list[MigrationRecord] = []

    def driver() -> Gen:
        yield h.env.timeout(3.5)  # every client served: the hub waits for the late message
        h.migrate(hub, 1, "freeze-free")
        while not may_leave(h, hub, 1):
            yield h.env.timeout(1e-5)
        second.append((yield h.migrate(hub, 2, "eager")))

    h.env.process(driver())
    h.cluster.run(until=late)
    assert h.cluster.location_of[hub] == 2 and hub in h.cluster.node(2).threads
    assert h.finish(limit_s=5.0) == []
    assert [ok(r) for r in second] == [True]
    assert second[0].resumed_at < late


# -- a negotiation that outlives its timeout ----------------------------------------------


@attrs.frozen
class _SlowDevice:
    """Makes a 1.5 s location-dependent call: its home node's kernel is busy meanwhile."""

    name: str = "slow-device"
    memory_bytes: int = 16 * KIB

    def run(self, ctx: Any) -> Any:
        yield Sleep(0.5)
        yield HomeCall("tape", size_bytes=64, service_s=1.5)
        yield Exit(0)


def busy_home() -> tuple[Harness, int]:
    """A stream receiver whose home, node 1, is busy from 0.5 s to 2 s serving a call;
    its sender starts at 2.5 s, and sends to the home node (the receiver is elsewhere)."""
    h = Harness.boot(nodes=3, profile="sparc-ethernet")
    p = h.spawn(StreamReceiver(h.messages, chunks=5), 1)
    h.spawn(_SlowDevice(), 1)
    h.spawn(StreamSender(h.messages, chunks=5, start_s=2.5), 2, peers={"peer": p})
    return h, p


def test_a_busy_destination_is_not_down_and_traps_no_message() -> None:
    """Node 1's kernel is busy for 1.5 s when a process is asked back there: the migration
    waits for it (a slow node is alive), and messages sent meanwhile to the process's home
    are all delivered."""
    h, p = busy_home()
    back: list[MigrationRecord] = []

    def driver() -> Gen:
        yield h.env.timeout(0.1)
        h.migrate(p, 0, "eager")  # 1 -> 0 (its record completes when p exits)
        yield h.env.timeout(0.55 - h.env.now)
        back.append((yield h.migrate(p, 1, "eager")))  # 0 -> 1 while node 1 is busy

    h.env.process(driver())
    assert h.finish(limit_s=10.0) == []
    assert [ok(r) for r in back] == [True]
    assert ipc_view(h.cluster, 1, p).expected == 0


@pytest.mark.parametrize(
    "strategy",
    ["eager", "eager-dirty", "precopy", "copy-on-reference", "flushing", "freeze-free", "postcopy"],
)
def test_a_network_with_long_latency_still_migrates(strategy: str) -> None:
    """With a legal 0.6 s network latency no destination is called down: every strategy
    migrates, and every invariant holds."""
    h = Harness(boot(nodes=2, profile=slow_latency(0.6), seed=0))
    pid = h.spawn_memory(0, cpu_seconds=4.0, memory_bytes=32 * KIB, sweep_every=5)

    def driver() -> Gen:
        yield h.env.timeout(0.05)
        yield h.migrate(pid, 1, strategy)

    h.env.process(driver())
    assert h.finish(limit_s=200.0) == []
    assert [ok(r) for r in h.records] == [True]


def test_a_negotiation_given_up_is_cancelled_at_both_ends() -> None:
    """The destination is down for a while when the source checks whether it is alive, and
    handles the negotiation after the source gave up: the source cancels it, and the
    destination drops its expectation and passes on what it queued for the process
    (nothing is trapped there)."""
    h, p = busy_home()
    back: list[MigrationRecord] = []

    def driver() -> Gen:
        yield h.env.timeout(0.1)
        h.migrate(p, 0, "eager")
        yield h.env.timeout(0.55 - h.env.now)
        asked = h.migrate(p, 1, "eager")  # node 1's kernel answers at 2.0 s, after its call
        yield h.env.timeout(0.6 - h.env.now)
        h.cluster.set_node_up(1, False)
        yield h.env.timeout(1.5 - h.env.now)
        h.cluster.set_node_up(1, True)
        back.append((yield asked))

    h.env.process(driver())
    assert h.finish(limit_s=10.0) == []
    assert len(back) == 1 and back[0].refused is not None and "down" in back[0].refused
    assert h.cluster.location_of[p] == 0
    assert ipc_view(h.cluster, 1, p).expected == 0
    assert p not in migration_view(h.cluster, 1).incoming


# -- a freeze at the exit instant ----------------------------------------------------------


def scan(
    profile: MachineProfile | str,
    program: Any,
    strategy: str,
    instants: np.ndarray,
) -> list[str]:
    """Ask for a migration of a fresh ``program`` at each instant; every problem found."""
    problems = []
    for at in instants.tolist():
        h = Harness(boot(nodes=2, profile=profile, seed=0))
        pid = h.spawn(program, 0)

        def ask(at: float = at, pid: int = pid, h: Harness = h) -> Gen:
            yield h.env.timeout(at)
            yield h.migrate(pid, 1, strategy)

        h.env.process(ask())
        try:
            found = h.finish(limit_s=5.0)
        except Exception as error:  # the run itself broke: that is the defect
            found = [f"the run raised {error!r}"]
        if len(h.records) != 1:
            found.append("the migration produced no record")
        problems += [f"asked at {at:.7f}: {v}" for v in found]
    return problems


@pytest.mark.parametrize("strategy", ["flushing", "freeze-free"])
def test_a_freeze_at_the_exit_instant_is_a_refusal(strategy: str) -> None:
    """Migrations asked at 321 instants around a process's exit (one of them freezes it after
    its thread ended but before the Process Manager heard of it): each one completes or is
    refused, and the run goes on."""
    instants = np.linspace(0.095, 0.1, 321)
    assert scan("sparc-ethernet", SleepThenExit(), strategy, instants) == []


def test_a_freeze_during_the_last_call_before_exit_is_a_refusal() -> None:
    """Freeze-free asked at 321 instants while the process's last call keeps its home
    kernel busy (on sun3-ethernet): each one completes or is refused."""
    instants = np.linspace(0.045, 0.055, 321)
    assert scan("sun3-ethernet", CallThenExit(), "freeze-free", instants) == []


@pytest.mark.parametrize(
    "strategy", ["eager", "eager-dirty", "precopy", "copy-on-reference", "postcopy"]
)
def test_every_strategy_survives_the_exit_instant(strategy: str) -> None:
    """The other strategies, asked at 81 instants around the exit, complete or refuse."""
    instants = np.linspace(0.0965, 0.0985, 81)
    assert scan("sparc-ethernet", SleepThenExit(), strategy, instants) == []


# -- a release that overtakes a flush ------------------------------------------------------


def test_a_release_that_overtakes_the_flush_is_harmless() -> None:
    """A process exits right after freeze-free resumes it (every CPU cost 0): its release
    reaches the source before the source's flush runs, at 321 instants of the request."""
    instants = np.linspace(0.045, 0.055, 321)
    assert scan(zero_cpu(), CallThenExit(), "freeze-free", instants) == []

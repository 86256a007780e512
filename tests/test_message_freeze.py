"""Message freeze as messages experience it, for every strategy (DESIGN.md, "Migration").

A process sleeps across its migration from node 0 to node 1 while a process on node 2
sends it one message timed to reach node 0 inside the message freeze. The record's
figures must equal what the kernel's own log says happened to that message: when it
reached node 0, when the communication state was installed on node 1, when a forwarded
copy reached node 1.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from rhodos.kernel import ClusterConfig, Exit, LogEvent, Receive, Send, Sleep, load_profile
from rhodos.migration_manager import BUILTINS, MigrationRecord
from rhodos.system import boot, migrate, spawn
from rhodos.workload import ProgramContext

KIB = 1 << 10


def exactly(value: float) -> Any:
    """Equal to the nanosecond."""
    return pytest.approx(value, abs=1e-9, rel=0)


@attrs.frozen
class Sleeper:
    """Sleeps across the migration, then receives one message and exits."""

    memory_bytes: int = 256 * KIB
    name: str = "sleeper"

    def run(self, ctx: ProgramContext) -> Any:
        yield Sleep(2.0)
        yield Receive()
        yield Exit(0)


@attrs.frozen
class Sender:
    """Sends one message to ``to`` at ``at`` seconds."""

    to: int
    at: float
    memory_bytes: int = 16 * KIB
    name: str = "sender"

    def run(self, ctx: ProgramContext) -> Any:
        yield Sleep(self.at)
        yield Send(self.to, 200)
        yield Exit(0)


@attrs.frozen
class Run:
    """One run: the record and the kernel's log."""

    record: MigrationRecord
    log: list[LogEvent]

    def first(self, event: str, node: int, component: str = "ipc", **fields: Any) -> float:
        """When ``component``'s ``event`` first happened on ``node`` with ``fields``."""
        return next(
            e.time
            for e in self.log
            if (e.event, e.node, e.component) == (event, node, component)
            and fields.items() <= dict(e.fields).items()
        )


def run(strategy: str, send_at: float) -> Run:
    """Migrate the sleeper 0 -> 1 at t = 1 s while node 2 sends it a message at ``send_at``."""
    profile = load_profile("sparc-ethernet")
    cluster = boot(ClusterConfig(nodes=3, profile=profile))
    pid, _ = spawn(cluster, Sleeper(), 0)
    spawn(cluster, Sender(pid, send_at), 2)
    out: dict[str, MigrationRecord] = {}

    def driver() -> Any:
        yield cluster.env.timeout(1.0)
        out["r"] = yield migrate(cluster, pid, 1, strategy)

    cluster.env.process(driver())
    cluster.run()
    return Run(out["r"], list(cluster.log))


def detached(run: Run) -> float:
    """When node 0's mailbox stopped being where the process will run: the hold, or the
    freeze if it came first (or there was no hold)."""
    holds = [e.time for e in run.log if e.event == "hold" and e.node == 0]
    return min([run.record.frozen_at, *holds])


@pytest.mark.parametrize("strategy", [s.name for s in BUILTINS if s.name != "auto"])
def test_a_message_arriving_mid_migration_is_delayed_exactly_as_the_log_shows(
    strategy: str,
) -> None:
    """The message freeze runs from the hold or freeze to the state's installation on the
    destination; the one message that reached the source inside it is delayed from its
    arrival there until it could be received on the destination."""
    # The message reaches node 0 before the migration: it waits in the mailbox, which
    # moves, but it was receivable when it came, so no migration delayed it.
    quiet = run(strategy, send_at=0.5)
    assert quiet.record.messages_delayed == 0
    start, installed = detached(quiet), quiet.first("install", 1)
    assert quiet.record.message_freeze_s == exactly(installed - start)
    assert installed > start

    # Send so that the message reaches node 0 a quarter of the way into that window.
    transit = quiet.first("user-arrive", 0) - 0.5
    busy = run(strategy, send_at=start + (installed - start) / 4 - transit)
    record = busy.record
    deliver = next(
        e for e in busy.log if e.event == "send" and e.node == 2 and ("kind", "deliver") in e.fields
    )
    arrived = busy.first("arrive", 0, "network", msg=dict(deliver.fields)["msg"])
    installed = busy.first("install", 1)
    assert detached(busy) < arrived < installed
    assert record.message_freeze_s == exactly(installed - detached(busy))
    assert record.messages_delayed == 1
    assert record.message_delay_max_s == exactly(installed - arrived)
    assert record.message_delay_mean_s == record.message_delay_max_s


@pytest.mark.parametrize("strategy", ["eager", "freeze-free"])
def test_a_message_reaching_the_source_after_the_state_left_is_delayed_by_its_forwarding(
    strategy: str,
) -> None:
    """A message that reaches the source once the state has left is forwarded: its delay is
    from its arrival at the source to its arrival at the destination."""
    quiet = run(strategy, send_at=0.5)
    transit = quiet.first("user-arrive", 0) - 0.5
    left = quiet.first("migrate-out", 0)
    busy = run(strategy, send_at=left + 0.005 - transit)
    forward = busy.first("forward", 0)
    reached = busy.first("user-arrive", 1)
    assert forward > busy.first("migrate-out", 0)
    assert busy.record.messages_delayed == 1
    assert busy.record.message_delay_max_s == exactly(reached - forward)
    assert busy.record.message_delay_max_s > 0

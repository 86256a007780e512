"""Specification of the IPC Manager: exactly-once FIFO delivery, forwarding, receive and cancel."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from rhodos.ipc_manager import IPCManager
from rhodos.ipc_manager.requests import Deliver, Expect, Hold, MigrateOut, Open
from rhodos.kernel import (
    CancelReceive,
    Cluster,
    ReceiveMessage,
    Request,
    SendMessage,
    UserMessage,
)

SENDER, RECEIVER = 1, 2

Gen = Generator[simpy.events.Event, Any, Any]


def ipc(cluster: Cluster, node: int) -> IPCManager:
    """The IPC Manager of ``node``."""
    manager: IPCManager = cluster.node(node).debug_server("ipc")
    return manager


def ask(cluster: Cluster, node: int, request: Request, *, src: int | None = None) -> Any:
    """Send a request to ``node``'s IPC Manager from ``src`` (default: the same node)."""
    origin = cluster.node(node if src is None else src)
    return origin.call(cluster.role_port(node, "ipc"), request)


def open_process(cluster: Cluster, pid: int, node: int) -> Gen:
    """Give ``pid`` a mailbox on ``node`` and make ``node`` its home, as spawning does."""
    cluster.home_of[pid] = node
    yield ask(cluster, node, Open(pid))


def send(cluster: Cluster, body: int, size: int = 64) -> Any:
    """The sender (on node 0) sends ``body`` to the receiver."""
    return ask(cluster, 0, SendMessage(SENDER, RECEIVER, size, body))


def receive_all(cluster: Cluster, node: int, count: int) -> Gen:
    """Receive ``count`` messages for the receiver on ``node``; return them."""
    got = []
    for _ in range(count):
        reply = yield ask(cluster, node, ReceiveMessage(RECEIVER))
        got.append(reply.body)
    return got


def arrival_seqs(cluster: Cluster, node: int) -> list[int]:
    """Sequence numbers of the user messages as they reached ``node``, in arrival order."""
    return [
        dict(e.fields)["seq"]
        for e in cluster.log.select("user-arrive", component="ipc")
        if e.node == node
    ]


def test_messages_arrive_once_and_in_order_when_a_small_one_overtakes(
    cluster: Cluster, run_process: Any
) -> None:
    """Small messages that overtake a large one on the network are still received after it."""

    def scenario() -> Gen:
        yield from open_process(cluster, SENDER, 0)
        yield from open_process(cluster, RECEIVER, 1)
        for body, size in enumerate([100_000, 64, 64, 64]):
            yield send(cluster, body, size)
        return (yield from receive_all(cluster, 1, 4))

    got = run_process(cluster, scenario)
    assert [(m.body, m.seq) for m in got] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert arrival_seqs(cluster, 1) == [2, 3, 4, 1]  # the reorder buffer did the work
    stats = ipc(cluster, 1).statistics()
    assert (stats.delivered, stats.duplicates, stats.dropped) == (4, 0, 0)
    assert ipc(cluster, 0).statistics().sent == 4


def test_forwarding_keeps_exactly_once_fifo_across_a_migration(
    cluster: Cluster, run_process: Any
) -> None:
    """Messages sent before, during and after the receiver's state moves arrive once, in order."""
    forwarded_at: list[int] = []

    def scenario() -> Gen:
        yield from open_process(cluster, SENDER, 0)
        yield from open_process(cluster, RECEIVER, 1)
        for body in range(3):  # before: they wait in the receiver's mailbox on node 1
            yield send(cluster, body)
        yield cluster.env.timeout(0.05)
        yield send(cluster, 3, size=20_000)  # still on the wire when the hold starts
        yield ask(cluster, 1, Hold(RECEIVER))
        yield ask(cluster, 2, Expect(RECEIVER), src=1)
        for body in range(4, 6):  # during the hold: kept aside on node 1
            yield send(cluster, body)
        yield cluster.env.timeout(0.05)
        moving = ask(cluster, 1, MigrateOut(RECEIVER, 2))
        for body in range(6, 8):  # while the state is on its way: forwarded
            yield send(cluster, body)
        yield moving
        for body in range(8, 12):  # after the move
            yield send(cluster, body)
        yield cluster.env.timeout(0.1)
        forwarded_at.append(ipc(cluster, 1).statistics().forwarded)
        for body in range(12, 16):  # long after: node 0 knows the new place
            yield send(cluster, body)
        yield cluster.env.timeout(0.1)
        forwarded_at.append(ipc(cluster, 1).statistics().forwarded)
        return (yield from receive_all(cluster, 2, 16))

    got = run_process(cluster, scenario)
    assert [m.body for m in got] == list(range(16))
    assert [m.seq for m in got] == list(range(1, 17))
    first, later = forwarded_at
    assert first >= 2 and later == first  # forwarding stopped once the sender knew
    sender_side = ipc(cluster, 0).statistics()
    assert sender_side.location_updates == first  # one update per forwarded message
    assert ipc(cluster, 0).location[RECEIVER] == 2
    assert cluster.network.statistics().messages_by_kind["forwarded"] == first
    assert ipc(cluster, 1).statistics().held == 3  # bodies 3..5
    [install] = cluster.log.select("install", component="ipc")
    assert dict(install.fields)["messages"] == 5  # the held three and the two forwarded early
    assert sum(ipc(cluster, n).statistics().dropped for n in range(3)) == 0
    assert ipc(cluster, 2).statistics().duplicates == 0
    assert RECEIVER not in ipc(cluster, 1).comm and RECEIVER in ipc(cluster, 2).comm


def test_receive_then_cancel_receive_answers_cancelled(cluster: Cluster, run_process: Any) -> None:
    """A waiting receive withdrawn by ``cancel_receive`` answers ``cancelled``; nothing is lost."""

    def scenario() -> Gen:
        yield from open_process(cluster, SENDER, 0)
        yield from open_process(cluster, RECEIVER, 0)
        waiting = ask(cluster, 0, ReceiveMessage(RECEIVER))
        yield cluster.env.timeout(0.01)
        cancel = yield ask(cluster, 0, CancelReceive(RECEIVER))
        answer = yield waiting
        nothing_to_cancel = yield ask(cluster, 0, CancelReceive(RECEIVER))
        yield send(cluster, "later")
        later = yield from receive_all(cluster, 0, 1)
        return cancel.body, answer.body, nothing_to_cancel.body, later[0].body

    assert run_process(cluster, scenario) == ("cancelled", "cancelled", "none", "later")


def test_duplicates_are_dropped(cluster: Cluster, run_process: Any) -> None:
    """A message delivered again, or twice while early, is recognised and dropped."""

    def inject(seq: int) -> Any:
        message = UserMessage(SENDER, RECEIVER, seq, 64, f"m{seq}")
        return cluster.node(0).send(cluster.role_port(1, "ipc"), Deliver(message, 0))

    def scenario() -> Gen:
        yield from open_process(cluster, SENDER, 0)
        yield from open_process(cluster, RECEIVER, 1)
        yield send(cluster, "m1")
        first = yield from receive_all(cluster, 1, 1)
        for seq in (1, 3, 3, 2):  # an old duplicate, an early one twice, then the gap
            yield inject(seq)
        rest = yield from receive_all(cluster, 1, 2)
        yield cluster.env.timeout(0.01)
        return [m.body for m in first + rest]

    assert run_process(cluster, scenario) == ["m1", "m2", "m3"]
    stats = ipc(cluster, 1).statistics()
    assert (stats.duplicates, stats.delivered) == (2, 3)
    assert len(cluster.log.select("duplicate")) == 2
    assert not ipc(cluster, 1).comm[RECEIVER].ready


def test_message_for_an_unknown_process_is_dropped(cluster: Cluster, run_process: Any) -> None:
    """A message for a pid with no mailbox, hold or forwarding address is dropped and counted."""

    def scenario() -> Gen:
        yield from open_process(cluster, SENDER, 0)
        cluster.home_of[RECEIVER] = 1  # a home, but no mailbox there
        yield send(cluster, "nobody")
        yield cluster.env.timeout(0.01)

    run_process(cluster, scenario)
    assert ipc(cluster, 1).statistics().dropped == 1
    assert len(cluster.log.select("user-drop")) == 1

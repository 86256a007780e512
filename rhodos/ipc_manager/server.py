"""The IPC Manager server: process mailboxes, ordered channels, and migration's hooks.

One per node. Processes address each other by pid; where a pid runs is the IPC
Manager's business: it keeps a location cache per node, falls back to the process's
home node (from the naming service), forwards messages for processes that left, and
tells the sender's IPC Manager the new location when it forwards.

Requests (kind -> what it does):

* ``open`` / ``close`` (pid): a process starts or ends here; ``close`` drops what is
  still queued or held for it (waiting first for its state if that is on its way here).
* ``send`` (src, dst, size, body): number the message on its channel and route it;
  the sender does not wait for delivery.
* ``deliver`` (message, from_node): a message arrives from a peer.
* ``receive`` (pid): answer with the next message, waiting for one if none is queued.
* ``cancel_receive`` (pid): withdraw a waiting receive (its thread is being frozen).
* ``hold`` (pid): keep new arrivals aside (the message freeze of a migration starts).
* ``expect`` (pid): on the destination, queue arrivals for a process not installed yet.
* ``migrate_out`` (pid, dest[, oneway]): move the communication state and held messages
  to ``dest``'s IPC Manager as one message (``oneway``: without waiting for its
  acknowledgement) and forward everything that arrives later.
* ``install`` (pid, state, held): the communication state arrives.
* ``location`` (pid, node): a peer says where ``pid`` is now.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import simpy

from rhodos.ipc_manager.channel import CommState
from rhodos.kernel import Handler, Message, Node, Reply, Server, UserMessage

__all__ = ["IPCManager", "IPCStatistics"]


@attrs.frozen
class IPCStatistics:
    """Counters of one IPC Manager."""

    sent: int
    delivered: int
    forwarded: int
    held: int
    location_updates: int
    duplicates: int
    dropped: int


class IPCManager(Server):
    """Owns the communication state of the processes on its node."""

    role = "ipc"

    def __init__(self, node: Node) -> None:
        self.comm: dict[int, CommState] = {}
        self.location: dict[int, int] = {}
        self.forward: dict[int, int] = {}
        self.held: dict[int, list[tuple[float, UserMessage]]] = {}
        self.expected: dict[int, list[UserMessage]] = {}
        self._installed: dict[int, simpy.Event] = {}
        self._closed_duplicates = 0
        #: pid -> when the current hold began (the start of its message freeze).
        self.hold_started: dict[int, float] = {}
        self._counts = dict.fromkeys(
            ("sent", "delivered", "forwarded", "held", "location_updates", "dropped"), 0
        )
        super().__init__(node)

    def handlers(self) -> dict[str, Handler]:
        return {
            "open": self._open,
            "close": self._close,
            "send": self._send,
            "deliver": self._deliver,
            "receive": self._receive,
            "cancel_receive": self._cancel_receive,
            "hold": self._hold,
            "expect": self._expect,
            "migrate_out": self._migrate_out,
            "install": self._install,
            "location": self._location,
        }

    def statistics(self) -> IPCStatistics:
        """A frozen snapshot of this IPC Manager's counters."""
        duplicates = self._closed_duplicates + sum(s.duplicates for s in self.comm.values())
        return IPCStatistics(duplicates=duplicates, **self._counts)

    # -- lifecycle -----------------------------------------------------------------
    def _open(self, msg: Message) -> None:
        pid = msg.body
        self.comm[pid] = CommState(pid)

    def _close(self, msg: Message) -> Generator[simpy.events.Event, Any, None]:
        pid = msg.body
        if pid not in self.comm and pid in self.expected:
            # It exited before its state, moved one-way after the resume, arrived.
            yield from self._state(pid)
        state = self.comm.pop(pid, None)
        held = [m for _, m in self.held.pop(pid, [])]
        self.hold_started.pop(pid, None)
        unreceived = held + (list(state.ready) if state is not None else [])
        if state is not None:
            self._closed_duplicates += state.duplicates
        if unreceived:
            self._counts["dropped"] += len(unreceived)
            self.log("unreceived", pid=pid, messages=len(unreceived))

    # -- sending and delivering ----------------------------------------------------
    def _state(self, pid: int) -> Generator[simpy.events.Event, Any, CommState]:
        """The process's communication state, waiting for it if it is still on its way."""
        if pid not in self.comm and pid in self.expected:
            event = self._installed.get(pid)
            if event is None:
                event = self._installed[pid] = self.env.event()
            yield event
        return self.comm[pid]

    def _send(self, msg: Message) -> Generator[simpy.events.Event, Any, None]:
        src, dst, size, body = msg.body
        state = yield from self._state(src)
        seq = state.next_seq(dst)
        message = UserMessage(src, dst, seq, size, body, self.env.now)
        self._counts["sent"] += 1
        self.log("user-send", src=src, dst=dst, seq=seq)
        target = self.location.get(dst, self.node.cluster.home_of.get(dst, self.node.node_id))
        self._route(message, target, origin=self.node.node_id, traffic="user")

    def _route(self, message: UserMessage, target: int, *, origin: int, traffic: str) -> None:
        if target == self.node.node_id:
            self._arrive(message, origin)
        else:
            self.node.send(
                self.peer(target),
                "deliver",
                (message, origin),
                size_bytes=message.size_bytes,
                traffic=traffic,
                account=message.dst_pid if traffic == "forwarded" else message.src_pid,
            )

    def _deliver(self, msg: Message) -> None:
        message, origin = msg.body
        self._arrive(message, origin)

    def _arrive(self, message: UserMessage, origin: int) -> None:
        pid = message.dst_pid
        if pid in self.held:
            self.held[pid].append((self.env.now, message))
            self._counts["held"] += 1
        elif pid in self.comm:
            state = self.comm[pid]
            before = state.duplicates
            state.deliver(state.accept(message))
            if state.duplicates != before:
                self.log("duplicate", src=message.src_pid, dst=pid, seq=message.seq)
            else:
                self._counts["delivered"] += 1
                self.log("user-arrive", src=message.src_pid, dst=pid, seq=message.seq)
        elif pid in self.expected:
            self.expected[pid].append(message)
        elif pid in self.forward:
            target = self.forward[pid]
            self._counts["forwarded"] += 1
            self.log("forward", src=message.src_pid, dst=pid, seq=message.seq, to=target)
            self._route(message, target, origin=origin, traffic="forwarded")
            if origin != self.node.node_id:
                self.node.send(self.peer(origin), "location", (pid, target), account=pid)
        else:
            self._counts["dropped"] += 1
            self.log("user-drop", src=message.src_pid, dst=pid, seq=message.seq)

    def _location(self, msg: Message) -> None:
        pid, node = msg.body
        self.location[pid] = node
        self._counts["location_updates"] += 1

    # -- receiving -----------------------------------------------------------------
    def _receive(self, msg: Message) -> Generator[simpy.events.Event, Any, Any]:
        pid = msg.body
        state = yield from self._state(pid)
        if state.ready:
            message = state.ready.popleft()
        else:
            state.waiter = self.env.event()
            message = yield state.waiter
            if message is None:
                return "cancelled"
        self.log("user-receive", pid=pid, src=message.src_pid, seq=message.seq)
        return Reply(body=message, size_bytes=64)

    def _cancel_receive(self, msg: Message) -> str:
        state = self.comm.get(msg.body)
        if state is not None and state.waiter is not None and not state.waiter.triggered:
            waiter, state.waiter = state.waiter, None
            waiter.succeed(None)
            return "cancelled"
        return "none"

    # -- migration hooks -----------------------------------------------------------
    def _hold(self, msg: Message) -> float:
        self.held.setdefault(msg.body, [])
        self.hold_started.setdefault(msg.body, self.env.now)
        self.log("hold", pid=msg.body)
        return float(self.env.now)

    def _expect(self, msg: Message) -> None:
        self.expected.setdefault(msg.body, [])

    def _migrate_out(
        self, msg: Message
    ) -> Generator[simpy.events.Event, Any, tuple[int, int, float]]:
        """Move the state; reply (bytes, messages held, time it was installed there)."""
        pid, dest, *options = msg.body
        oneway = bool(options[0]) if options else False
        yield from self._state(pid)  # it may still be on its way here (a one-way move)
        state = self.comm.pop(pid)
        held = [m for _, m in self.held.pop(pid, [])]
        self.hold_started.pop(pid, None)
        self.forward[pid] = dest
        self.location[pid] = dest
        size = state.wire_bytes() + sum(m.size_bytes for m in held)
        self.log("migrate-out", pid=pid, dest=dest, bytes=size, held=len(held))
        deliver = self.node.send if oneway else self.node.call
        sent = deliver(
            self.peer(dest),
            "install",
            (pid, state, held),
            size_bytes=size,
            traffic="state",
            account=pid,
        )
        if oneway:
            return size, len(held), float("nan")
        reply = yield sent
        return size, len(held), float(reply.body)

    def _install(self, msg: Message) -> float:
        pid, state, held = msg.body
        self.comm[pid] = state
        self.forward.pop(pid, None)
        self.location.pop(pid, None)
        waiting = held + self.expected.pop(pid, [])
        before = state.duplicates
        for message in waiting:
            state.deliver(state.accept(message))
        self._counts["delivered"] += len(waiting) - (state.duplicates - before)
        self.log("install", pid=pid, messages=len(waiting))
        event = self._installed.pop(pid, None)
        if event is not None:
            event.succeed()
        return float(self.env.now)

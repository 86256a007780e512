"""The IPC Manager server: process mailboxes, ordered channels, and migration's hooks.

One per node. Processes address each other by pid; where a pid runs is the IPC
Manager's business: it keeps a location cache per node, falls back to the process's
home node (from the naming service), forwards messages for processes that left, and
tells the sender's IPC Manager the new location when it forwards.

Its requests are declared in :mod:`rhodos.ipc_manager.requests`, each with who sends
it and what it replies; the dispatch table below maps them to the handlers.

It also measures what a migration does to the messages sent to the process (DESIGN.md's
message freeze), from what happens to them, whatever the strategy: from the instant the
source's mailbox stops being where the process will run (its messages are held, or the
process is frozen there) until the communication state is installed where it will run,
a message sent to it can be neither received nor queued there -- that interval is the
message freeze, booked when the state is installed. Each message that waited in it, or
was forwarded, is booked with its extra delay: from when it reached a node where it
could be neither received nor queued where the process will run, to when it reached
the process's communication state where the process runs (or will). The bookings go to
the kernel's ledger (:meth:`~rhodos.kernel.Node.book_message_freeze`), at no simulated
cost; the migration's record reads them.

Once crashes are expected, channels also stay exactly-once across a crash and a
restart: :mod:`rhodos.ipc_manager.reliable` (the base class of this server).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import attrs
import simpy

from rhodos.ipc_manager.channel import CommState
from rhodos.ipc_manager.reliable import ReliableChannels
from rhodos.ipc_manager.requests import (
    Ack,
    Checkpointed,
    Close,
    CommMoved,
    Deliver,
    Expect,
    Hold,
    Install,
    Location,
    MigrateOut,
    Nack,
    Open,
    Orphaned,
    Relocated,
    StopExpecting,
    Unhold,
)
from rhodos.kernel import (
    CancelReceive,
    Handler,
    Node,
    ReceiveMessage,
    Reply,
    Request,
    RequestFailed,
    SendMessage,
    UserMessage,
)

__all__ = ["CommView", "IPCManager", "IPCStatistics"]


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
    #: Messages sent again, not acknowledged in time or to a restarted receiver.
    resent: int = 0
    #: Messages returned to their sending process: their receiver ended for good.
    bounced: int = 0


@attrs.frozen
class CommView:
    """What one IPC Manager holds of a process, for the checkers of :mod:`rhodos.testing`."""

    pid: int
    #: It holds the process's communication state.
    state: bool
    #: Messages held for it (a migration's message freeze).
    held: int
    #: Messages queued for it before its state arrives.
    expected: int
    #: Messages it forwards to the process's new node (``None``: none).
    forward_to: int | None


class IPCManager(ReliableChannels):
    """Owns the communication state of the processes on its node."""

    role = "ipc"

    def __init__(self, node: Node) -> None:
        self.comm: dict[int, CommState] = {}
        self.location: dict[int, int] = {}
        self.forward: dict[int, int] = {}
        self.held: dict[int, list[tuple[float, UserMessage]]] = {}
        #: pid -> messages queued before its state arrives, each with when it began to wait.
        self.expected: dict[int, list[tuple[float, UserMessage]]] = {}
        self._installed: dict[int, simpy.Event] = {}
        #: pid -> the cancellation of a receive waiting for the state to arrive.
        self._early_receives: dict[int, simpy.Event] = {}
        self._closed_duplicates = 0
        #: pid -> when the current hold began (the start of its message freeze).
        self.hold_started: dict[int, float] = {}
        self._counts = dict.fromkeys(
            ("sent", "delivered", "forwarded", "held", "location_updates", "dropped"), 0
        )
        self._reliability = dict.fromkeys(("resent", "bounced"), 0)
        #: Communication states of processes that exited with messages not acknowledged:
        #: the kernel keeps sending those until they are.
        self.exited: dict[int, CommState] = {}
        self._resending = False
        super().__init__(node)

    def handlers(self) -> dict[type[Request], Handler]:
        return {
            Open: self._open,
            Close: self._close,
            SendMessage: self._send,
            Deliver: self._deliver,
            ReceiveMessage: self._receive,
            CancelReceive: self._cancel_receive,
            Hold: self._hold,
            Expect: self._expect,
            StopExpecting: self._stop_expecting,
            Unhold: self._unhold,
            Orphaned: self._orphaned,
            MigrateOut: self._migrate_out,
            Install: self._install,
            Location: self._location,
            Checkpointed: self._checkpointed,
            Ack: self._ack,
            Nack: self._nack,
            Relocated: self._relocated,
        }

    def statistics(self) -> IPCStatistics:
        """A frozen snapshot of this IPC Manager's counters."""
        duplicates = self._closed_duplicates + sum(s.duplicates for s in self.comm.values())
        return IPCStatistics(duplicates=duplicates, **self._counts, **self._reliability)

    def snapshot(self, pid: int) -> CommView:
        """What this IPC Manager holds of ``pid`` (read-only; for :mod:`rhodos.testing`)."""
        return CommView(
            pid=pid,
            state=pid in self.comm,
            held=len(self.held.get(pid, ())),
            expected=len(self.expected.get(pid, ())),
            forward_to=self.forward.get(pid),
        )

    # -- lifecycle -----------------------------------------------------------------
    def _open(self, req: Open) -> None:
        if req.checkpoint is None and not req.received:
            self.comm[req.pid] = CommState(req.pid)
            return
        now = float(self.env.now)
        state = CommState.restored(req.pid, req.checkpoint, list(req.received), now)
        self.comm[req.pid] = state
        self.log("restored", pid=req.pid, queued=len(state.ready), logged=len(req.received))
        self._resend_due(state, now)

    def _close(self, req: Close) -> Generator[simpy.events.Event, Any, None]:
        pid = req.pid
        if pid not in self.comm and pid in self.expected:
            # It exited before its state, moved one-way after the resume, arrived.
            yield from self._state(pid)
        state = self.comm.pop(pid, None)
        held = [m for _, m in self.held.pop(pid, [])]
        self.hold_started.pop(pid, None)
        unreceived = held + (list(state.ready) if state is not None else [])
        if state is not None:
            self._closed_duplicates += state.duplicates
            if state.unacked:
                self.exited[pid] = state
        if unreceived:
            self._counts["dropped"] += len(unreceived)
            self.log("unreceived", pid=pid, messages=len(unreceived))

    # -- sending and delivering ----------------------------------------------------
    def _state(self, pid: int) -> Generator[simpy.events.Event, Any, CommState]:
        """The process's communication state, waiting for it if it is still on its way."""
        if pid not in self.comm and pid in self.expected:
            yield self._arrival(pid)
        return self.comm[pid]

    def _arrival(self, pid: int) -> simpy.Event:
        """The event of ``pid``'s communication state being installed here."""
        event = self._installed.get(pid)
        if event is None:
            event = self._installed[pid] = self.env.event()
        return event

    def _send(self, req: SendMessage) -> Generator[simpy.events.Event, Any, None]:
        src, dst = req.src, req.dst
        state = yield from self._state(src)
        seq = state.next_seq(dst)
        message = UserMessage(src, dst, seq, req.size_bytes, req.body, self.env.now)
        self._counts["sent"] += 1
        if self.node.detecting:
            self._keep(state, message)
        self.log("user-send", src=src, dst=dst, seq=seq)
        home = self.node.home_of(dst)
        target = self.location.get(dst, self.node.node_id if home is None else home)
        self._route(message, target, origin=self.node.node_id, traffic="user")

    def _route(
        self,
        message: UserMessage,
        target: int,
        *,
        origin: int,
        traffic: str,
        since: float | None = None,
    ) -> None:
        if target == self.node.node_id:
            self._arrive(message, origin, since)
        else:
            self.node.send(
                self.peer(target),
                Deliver(message, origin, since),
                size_bytes=message.size_bytes,
                traffic=traffic,
                account=message.dst_pid if traffic == "forwarded" else message.src_pid,
            )

    def _deliver(self, req: Deliver) -> None:
        self._arrive(req.message, req.origin, req.since)

    def _arrive(self, message: UserMessage, origin: int, since: float | None = None) -> None:
        """``message`` reaches this node (``since``: it has been delayed since then)."""
        pid = message.dst_pid
        now = float(self.env.now)
        if pid in self.held:
            self.held[pid].append((now if since is None else since, message))
            self._counts["held"] += 1
        elif pid in self.comm:
            state = self.comm[pid]
            before = state.duplicates
            state.deliver(state.accept(message), now)
            if state.duplicates != before:
                self.log("duplicate", src=message.src_pid, dst=pid, seq=message.seq)
                if self.node.detecting:
                    self._acknowledge(state, message.src_pid)
            else:
                self._counts["delivered"] += 1
                self.log("user-arrive", src=message.src_pid, dst=pid, seq=message.seq)
                if since is not None:
                    self.node.book_message_delay(pid, now - since)
        elif pid in self.expected:
            self.expected[pid].append((now if since is None else since, message))
        elif pid in self.forward:
            target = self.forward[pid]
            self._counts["forwarded"] += 1
            self.log("forward", src=message.src_pid, dst=pid, seq=message.seq, to=target)
            since = now if since is None else since
            self._route(message, target, origin=origin, traffic="forwarded", since=since)
            if origin != self.node.node_id:
                self.node.send(self.peer(origin), Location(pid, target), account=pid)
        elif self.node.detecting and self._misdirected(message, origin, since):
            return
        else:
            self._counts["dropped"] += 1
            self.log("user-drop", src=message.src_pid, dst=pid, seq=message.seq)

    def _location(self, req: Location) -> None:
        self.location[req.pid] = req.node
        self._counts["location_updates"] += 1

    # -- receiving -----------------------------------------------------------------
    def _receive(self, req: ReceiveMessage) -> Generator[simpy.events.Event, Any, Any]:
        pid = req.pid
        if pid not in self.comm and pid in self.expected:
            # The state is still on its way (a one-way move): the thread may be frozen
            # before it arrives, and must be, or a freeze would wait for a message.
            cancelled = self._early_receives[pid] = self.env.event()
            yield self._arrival(pid) | cancelled
            if self._early_receives.get(pid) is cancelled:
                del self._early_receives[pid]
            if cancelled.triggered:
                return "cancelled"
        state = self.comm[pid]
        if state.ready:
            message = state.take()
        else:
            state.waiter = self.env.event()
            message = yield state.waiter
            if message is None:
                return "cancelled"
        if self.node.detecting:
            yield from self._log_taken(state, message)
        state.taken(message)
        if self.node.detecting and message.seq > 0:
            self._acknowledge(state, message.src_pid)
        self.log("user-receive", pid=pid, src=message.src_pid, seq=message.seq)
        return Reply(body=message, size_bytes=64)

    def _cancel_receive(self, req: CancelReceive) -> str:
        early = self._early_receives.pop(req.pid, None)
        if early is not None and not early.triggered:
            early.succeed()  # it waited for the state, which has not come yet
            return "cancelled"
        state = self.comm.get(req.pid)
        if state is not None and state.waiter is not None and not state.waiter.triggered:
            waiter, state.waiter = state.waiter, None
            waiter.succeed(None)
            return "cancelled"
        return "none"

    # -- migration hooks -----------------------------------------------------------
    def _hold(self, req: Hold) -> float:
        self.held.setdefault(req.pid, [])
        self.hold_started.setdefault(req.pid, self.env.now)
        self.log("hold", pid=req.pid)
        return float(self.env.now)

    def _unhold(self, req: Unhold) -> int:
        """A rolled-back migration: the held messages are delivered here after all; -1
        when the communication state is no longer here."""
        pid = req.pid
        if pid not in self.comm:
            return -1  # the state left (a one-way move): nothing to deliver to here
        held = self.held.pop(pid, [])
        self.hold_started.pop(pid, None)
        state = self.comm[pid]
        now = float(self.env.now)
        for _, message in held:
            state.deliver(state.accept(message), now)
        self._counts["delivered"] += len(held)
        self.log("unhold", pid=pid, messages=len(held))
        return len(held)

    def _orphaned(self, req: Orphaned) -> bool:
        """The state will not come (its source crashed): an empty one instead."""
        pid = req.pid
        if pid in self.comm or pid not in self.expected:
            return False
        state = self.comm[pid] = CommState(pid)
        now = float(self.env.now)
        for _, message in self.expected.pop(pid):
            state.deliver(state.accept(message), now)
        self.log("orphaned", pid=pid)
        event = self._installed.pop(pid, None)
        if event is not None:
            event.succeed()
        return True

    def _expect(self, req: Expect) -> None:
        self.expected.setdefault(req.pid, [])

    def _stop_expecting(self, req: StopExpecting) -> int:
        """The process will not come: what was queued for it goes where it is."""
        pid = req.pid
        if pid in self.comm:
            return 0  # it came after all (the state arrived): nothing is queued
        queued = self.expected.pop(pid, [])
        for since, message in queued:
            if pid in self.forward:
                self._arrive(message, self.node.node_id, since)
            else:
                self._route(
                    message, req.at, origin=self.node.node_id, traffic="forwarded", since=since
                )
        self.log("stop-expecting", pid=pid, messages=len(queued), at=req.at)
        return len(queued)

    def _migrate_out(self, req: MigrateOut) -> Generator[simpy.events.Event, Any, CommMoved]:
        """Move the state; reply the bytes, the messages held, and when it was installed there."""
        pid, dest, oneway = req.pid, req.dest, req.oneway
        yield from self._state(pid)  # it may still be on its way here (a one-way move)
        now = float(self.env.now)
        state = self.comm.pop(pid)
        kept = self.held.pop(pid, [])
        held = [m for _, m in kept]
        hold_began = self.hold_started.pop(pid, None)
        # The mailbox here stopped being where the process will run when the hold began
        # or the process was frozen, whichever came first (now, if neither happened).
        detached_at = min(
            now if hold_began is None else hold_began,
            now if req.frozen_at is None else req.frozen_at,
        )
        waiting_since = tuple(at for at, _ in kept) + tuple(state.queued_since(detached_at))
        self.forward[pid] = dest
        self.location[pid] = dest
        size = state.wire_bytes() + sum(m.size_bytes for m in held)
        self.log("migrate-out", pid=pid, dest=dest, bytes=size, held=len(held))
        deliver = self.node.send if oneway else self.node.call
        sent_at = float(self.env.now)
        sent = deliver(
            self.peer(dest),
            Install(pid, state, held, detached_at, waiting_since),
            size_bytes=size,
            traffic="state",
            account=pid,
        )
        try:
            reply = yield sent
        except RequestFailed:
            # The destination crashed before it installed the state: it stays here, and
            # what was held stays held (a rollback releases it).
            self.comm[pid] = state
            if hold_began is not None:
                self.held[pid] = kept
                self.hold_started[pid] = hold_began
            self.forward.pop(pid, None)
            self.location.pop(pid, None)
            raise
        if oneway:
            # Delivered (no acknowledgement crossed the network): the destination holds
            # the state now, so the migration may let the process go on from there.
            return CommMoved(size, len(held), float("nan"), sent_at)
        return CommMoved(size, len(held), float(reply.body), sent_at)

    def _install(self, req: Install) -> float:
        pid, state, held = req.pid, req.state, req.held
        now = float(self.env.now)
        self.comm[pid] = state
        self.forward.pop(pid, None)
        self.location.pop(pid, None)
        queued = self.expected.pop(pid, [])
        waiting = held + [m for _, m in queued]
        before = state.duplicates
        for message in waiting:
            state.deliver(state.accept(message), now)
        self._counts["delivered"] += len(waiting) - (state.duplicates - before)
        # The message freeze ends here: messages for the process are where it will run.
        if not math.isnan(req.detached_at):
            self.node.book_message_freeze(pid, now - req.detached_at)
        for since in req.waiting_since + tuple(at for at, _ in queued):
            self.node.book_message_delay(pid, now - since)
        self.log("install", pid=pid, messages=len(waiting))
        event = self._installed.pop(pid, None)
        if event is not None:
            event.succeed()
        return float(self.env.now)

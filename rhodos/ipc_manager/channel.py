"""Per-process communication state: mailboxes and FIFO channels with sequence numbers.

A process's communication state is what the IPC Manager owns of it and moves when it
migrates: the messages delivered but not yet received, the next sequence number of
each channel it sends on, and for each channel it receives on the next sequence number
it expects plus the messages that arrived early. Delivery is in sequence order, so a
message that overtook another on the network (a smaller flow finishing first, or a
forwarded path) waits, and a duplicate is recognised and dropped.

Once crashes are expected, a channel is also made reliable end to end: the sender keeps
each message it sent (:attr:`CommState.unacked`) until the receiving process has taken
it (the receiver's IPC Manager acknowledges it then, after logging it), and sends it
again when it is not acknowledged in time or when its receiver was restarted. The
state copied into a checkpoint (:meth:`CommState.checkpointed`) and the messages
logged since give the state a restarted process begins with (:meth:`CommState.restored`).
"""

from __future__ import annotations

from collections import deque

import attrs
import simpy

from rhodos.kernel import UserMessage

__all__ = ["CommState", "Inbound", "Unacked"]


@attrs.define
class Inbound:
    """One channel into the process: the next sequence expected and early arrivals."""

    expected: int = 1
    early: dict[int, UserMessage] = attrs.field(factory=dict)
    #: The last sequence number the process has taken from this channel.
    received: int = 0


@attrs.define
class Unacked:
    """A message sent and not acknowledged yet: when to send it again, and the wait
    after that (doubled each time)."""

    message: UserMessage
    due: float
    wait: float


@attrs.define(eq=False)
class CommState:
    """Everything the IPC Manager holds for one process."""

    pid: int
    ready: deque[UserMessage] = attrs.field(factory=deque)
    #: When each message of ``ready`` became receivable (in order): a migration tells
    #: from it which messages arrived after the process stopped being here.
    ready_at: deque[float] = attrs.field(factory=deque)
    outbound: dict[int, int] = attrs.field(factory=dict)
    inbound: dict[int, Inbound] = attrs.field(factory=dict)
    waiter: simpy.Event | None = None
    duplicates: int = 0
    #: dst pid -> seq -> a message sent to it and not acknowledged (crashes expected).
    unacked: dict[int, dict[int, Unacked]] = attrs.field(factory=dict)
    #: Messages the process has taken: the number of its next receive.
    receives: int = 0
    #: Receives below this number are in the message log already (a restarted process
    #: takes them again without logging them twice).
    logged: int = 0

    def next_seq(self, dst_pid: int) -> int:
        """Number the next message this process sends to ``dst_pid``."""
        seq = self.outbound.get(dst_pid, 0) + 1
        self.outbound[dst_pid] = seq
        return seq

    def accept(self, message: UserMessage) -> list[UserMessage]:
        """Take an arriving message; return the ones now deliverable, in order."""
        channel = self.inbound.setdefault(message.src_pid, Inbound())
        if message.seq < channel.expected or message.seq in channel.early:
            self.duplicates += 1
            return []
        channel.early[message.seq] = message
        ready = []
        while channel.expected in channel.early:
            ready.append(channel.early.pop(channel.expected))
            channel.expected += 1
        return ready

    def deliver(self, messages: list[UserMessage], now: float) -> None:
        """Hand in-order messages to a waiting receive, queue the rest (``now``: the instant)."""
        for message in messages:
            if self.waiter is not None and not self.waiter.triggered:
                waiter, self.waiter = self.waiter, None
                waiter.succeed(message)
            else:
                self.ready.append(message)
                self.ready_at.append(now)

    def take(self) -> UserMessage:
        """The first queued message, removed from the queue."""
        self.ready_at.popleft()
        return self.ready.popleft()

    def taken(self, message: UserMessage) -> None:
        """The process took ``message``: count the receive and its channel's progress."""
        self.receives += 1
        if message.seq > 0:
            channel = self.inbound.setdefault(message.src_pid, Inbound())
            channel.received = max(channel.received, message.seq)

    def checkpointed(self) -> CommState:
        """A copy of this state for a checkpoint (no receive waiting on it)."""
        return CommState(
            self.pid,
            ready=deque(self.ready),
            ready_at=deque(self.ready_at),
            outbound=dict(self.outbound),
            inbound={
                src: Inbound(c.expected, dict(c.early), c.received)
                for src, c in self.inbound.items()
            },
            unacked={
                dst: {seq: attrs.evolve(u) for seq, u in sent.items()}
                for dst, sent in self.unacked.items()
            },
            receives=self.receives,
            logged=self.logged,
        )

    @classmethod
    def restored(
        cls, pid: int, checkpoint: CommState | None, received: list[UserMessage], now: float
    ) -> CommState:
        """The state a process restarted from ``checkpoint`` begins with.

        ``received`` are the messages the process took after the checkpoint, from the
        message log, in order: they are queued again first, so that the restarted
        process, re-running its program from the checkpoint, takes the same messages in
        the same order; each channel expects what follows them. The messages queued at
        the checkpoint that it had not taken follow. Its sequence numbers are the
        checkpoint's: the messages it sends again carry the numbers they had, and their
        receivers recognise the ones they already have.
        """
        state = checkpoint.checkpointed() if checkpoint is not None else cls(pid)
        again = {(m.src_pid, m.seq) for m in received}
        rest = [m for m in state.ready if (m.src_pid, m.seq) not in again]
        for message in received:
            if message.seq <= 0:
                continue
            channel = state.inbound.setdefault(message.src_pid, Inbound())
            channel.early.pop(message.seq, None)
            channel.expected = max(channel.expected, message.seq + 1)
        state.ready = deque([*received, *rest])
        for channel in state.inbound.values():
            while channel.expected in channel.early:
                state.ready.append(channel.early.pop(channel.expected))
                channel.expected += 1
        state.ready_at = deque([now] * len(state.ready))
        state.logged = state.receives + len(received)
        for sent in state.unacked.values():
            for unacked in sent.values():
                unacked.due = now
        return state

    def queued_since(self, instant: float) -> list[float]:
        """When each queued message that became receivable at or after ``instant`` did."""
        return [at for at in self.ready_at if at >= instant]

    def wire_bytes(self) -> int:
        """Size of this state on the wire: headers plus the queued messages."""
        queued = sum(m.size_bytes for m in self.ready)
        early = sum(m.size_bytes for c in self.inbound.values() for m in c.early.values())
        kept = sum(u.message.size_bytes for sent in self.unacked.values() for u in sent.values())
        return 64 + 16 * (len(self.outbound) + len(self.inbound)) + queued + early + kept

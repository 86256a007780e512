"""Per-process communication state: mailboxes and FIFO channels with sequence numbers.

A process's communication state is what the IPC Manager owns of it and moves when it
migrates: the messages delivered but not yet received, the next sequence number of
each channel it sends on, and for each channel it receives on the next sequence number
it expects plus the messages that arrived early. Delivery is in sequence order, so a
message that overtook another on the network (a smaller flow finishing first, or a
forwarded path) waits, and a duplicate is recognised and dropped.
"""

from __future__ import annotations

from collections import deque

import attrs
import simpy

from rhodos.kernel import UserMessage

__all__ = ["CommState", "Inbound"]


@attrs.define
class Inbound:
    """One channel into the process: the next sequence expected and early arrivals."""

    expected: int = 1
    early: dict[int, UserMessage] = attrs.field(factory=dict)


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

    def queued_since(self, instant: float) -> list[float]:
        """When each queued message that became receivable at or after ``instant`` did."""
        return [at for at in self.ready_at if at >= instant]

    def wire_bytes(self) -> int:
        """Size of this state on the wire: headers plus the queued messages."""
        queued = sum(m.size_bytes for m in self.ready)
        early = sum(m.size_bytes for c in self.inbound.values() for m in c.early.values())
        return 64 + 16 * (len(self.outbound) + len(self.inbound)) + queued + early

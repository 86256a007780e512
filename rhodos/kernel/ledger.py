"""The traffic ledger: network bytes and messages per process and traffic kind.

Every message that crosses the network is booked under its ``account`` (the process on
whose behalf it travels, or ``None``) and its traffic kind. A migration's cost in bytes
is then the difference of its process's ledger between two instants, untouched by
whatever else the cluster is doing.

The IPC Manager books here too what migrations do to the messages sent to a process:
each interval in which a message sent to it could be neither received nor queued where
it will run (a message freeze), and each message's extra delay. Booking and reading
cost no simulated time: they are the kernel's accounting, not messages.
"""

from __future__ import annotations

from collections import defaultdict

import attrs

__all__ = ["TrafficLedger", "TrafficTally"]


@attrs.frozen
class TrafficTally:
    """Bytes (payload) and messages by traffic kind, for one account at one instant."""

    bytes_by_kind: dict[str, int] = attrs.field(factory=dict)
    messages_by_kind: dict[str, int] = attrs.field(factory=dict)
    #: The message freezes booked so far, in seconds, in the order they ended.
    message_freezes: tuple[float, ...] = ()
    #: The extra delays of the messages the process's migrations delayed, in seconds,
    #: in the order the messages became receivable.
    message_delays: tuple[float, ...] = ()

    def __sub__(self, earlier: TrafficTally) -> TrafficTally:
        kinds = set(self.bytes_by_kind) | set(earlier.bytes_by_kind)
        return TrafficTally(
            {
                k: self.bytes_by_kind.get(k, 0) - earlier.bytes_by_kind.get(k, 0)
                for k in sorted(kinds)
                if self.bytes_by_kind.get(k, 0) != earlier.bytes_by_kind.get(k, 0)
            },
            {
                k: self.messages_by_kind.get(k, 0) - earlier.messages_by_kind.get(k, 0)
                for k in sorted(kinds)
                if self.messages_by_kind.get(k, 0) != earlier.messages_by_kind.get(k, 0)
            },
            self.message_freezes[len(earlier.message_freezes) :],
            self.message_delays[len(earlier.message_delays) :],
        )

    @property
    def bytes_total(self) -> int:
        """All bytes, every kind."""
        return sum(self.bytes_by_kind.values())

    @property
    def messages_total(self) -> int:
        """All messages, every kind."""
        return sum(self.messages_by_kind.values())


class TrafficLedger:
    """Running totals per (account, kind)."""

    def __init__(self) -> None:
        self._bytes: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._messages: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._freezes: dict[int, list[float]] = defaultdict(list)
        self._delays: dict[int, list[float]] = defaultdict(list)

    def book(self, account: int | None, kind: str, payload_bytes: int) -> None:
        """Count one message of ``payload_bytes`` for ``account`` under ``kind``."""
        self._bytes[account][kind] += payload_bytes
        self._messages[account][kind] += 1

    def book_message_freeze(self, pid: int, seconds: float) -> None:
        """Count one message freeze of process ``pid``, ``seconds`` long."""
        self._freezes[pid].append(seconds)

    def book_message_delay(self, pid: int, seconds: float) -> None:
        """Count one message to process ``pid`` that a migration delayed by ``seconds``."""
        self._delays[pid].append(seconds)

    def tally(self, account: int | None) -> TrafficTally:
        """A snapshot of ``account``'s totals."""
        freezes = self._freezes.get(account, ()) if account is not None else ()
        delays = self._delays.get(account, ()) if account is not None else ()
        return TrafficTally(
            dict(self._bytes.get(account, {})),
            dict(self._messages.get(account, {})),
            tuple(freezes),
            tuple(delays),
        )

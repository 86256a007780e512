"""The traffic ledger: network bytes and messages per process and traffic kind.

Every message that crosses the network is booked under its ``account`` (the process on
whose behalf it travels, or ``None``) and its traffic kind. A migration's cost in bytes
is then the difference of its process's ledger between two instants, untouched by
whatever else the cluster is doing.
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

    def book(self, account: int | None, kind: str, payload_bytes: int) -> None:
        """Count one message of ``payload_bytes`` for ``account`` under ``kind``."""
        self._bytes[account][kind] += payload_bytes
        self._messages[account][kind] += 1

    def tally(self, account: int | None) -> TrafficTally:
        """A snapshot of ``account``'s totals."""
        return TrafficTally(
            dict(self._bytes.get(account, {})), dict(self._messages.get(account, {}))
        )

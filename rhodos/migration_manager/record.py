"""The migration record: one migration, measured the way the literature measured it.

Definitions (DESIGN.md, "Migration"), used everywhere in the project:

* **latency**: request accepted -> process runs again on the destination.
* **freeze time**: process stops executing -> process runs again.
* **message freeze time**: the interval during which a message sent to the process
  could be neither received nor queued for it where it will run (held at the source).
* **total time**: request -> the source holds nothing the process needs.
* **residual dependency time**: resume -> the last dependency on the source ends.
* **bytes and messages** on the network by kind (state, pages, control, forwarded,
  flush), booked to the process from the request until the record is complete;
  the process's own traffic (``user``) and its home-node calls (``home``) are not
  migration cost and are counted apart.
* **remote faults and stall**: page faults resolved across the network after resume,
  and the time the process waited for them.
* **slowdown**: the migrated process's completion time over the same run's without
  migration (filled in by the experiment layer, which runs both).
"""

from __future__ import annotations

import math
from typing import Any

import attrs

__all__ = ["MIGRATION_COST_KINDS", "MigrationRecord"]

#: Traffic kinds that are the cost of a migration.
MIGRATION_COST_KINDS = ("control", "state", "pages", "forwarded", "flush")

_NAN = float("nan")


@attrs.frozen
class MigrationRecord:
    """Everything measured about one migration (or why it was refused)."""

    strategy: str
    pid: int
    source: int
    destination: int
    params: dict[str, Any] = attrs.field(factory=dict)
    refused: str | None = None
    #: Why the migration failed after it was accepted (a server could not do what it
    #: asked); ``None`` when it did not.
    failed: str | None = None
    #: (phase, simulated time) in the order they happened.
    phases: tuple[tuple[str, float], ...] = ()
    requested_at: float = _NAN
    accepted_at: float = _NAN
    frozen_at: float = _NAN
    resumed_at: float = _NAN
    residual_end_at: float = _NAN
    message_freeze_s: float = 0.0
    messages_held: int = 0
    bytes_by_kind: dict[str, int] = attrs.field(factory=dict)
    messages_by_kind: dict[str, int] = attrs.field(factory=dict)
    state_bytes: int = 0
    remote_faults: int = 0
    stall_s: float = 0.0
    home_calls: int = 0
    home_call_s: float = 0.0
    home_bytes: int = 0
    rounds: tuple[int, ...] = ()
    slowdown: float | None = None

    @property
    def ok(self) -> bool:
        """The migration happened (it was neither refused nor failed)."""
        return self.refused is None and self.failed is None

    @property
    def latency_s(self) -> float:
        """Request accepted -> process runs again."""
        return self.resumed_at - self.accepted_at

    @property
    def freeze_s(self) -> float:
        """Process stops executing -> process runs again."""
        return self.resumed_at - self.frozen_at

    @property
    def total_s(self) -> float:
        """Request -> the source holds nothing the process needs."""
        end = max(self.resumed_at, self.residual_end_at)
        return end - self.requested_at

    @property
    def residual_s(self) -> float:
        """Resume -> the last dependency on the source ends."""
        return max(0.0, self.residual_end_at - self.resumed_at)

    @property
    def bytes_total(self) -> int:
        """Migration bytes on the network, every cost kind."""
        return sum(self.bytes_by_kind.get(k, 0) for k in MIGRATION_COST_KINDS)

    @property
    def messages_total(self) -> int:
        """Migration messages on the network, every cost kind."""
        return sum(self.messages_by_kind.get(k, 0) for k in MIGRATION_COST_KINDS)

    def phase(self, name: str) -> float:
        """The time of phase ``name`` (NaN when it did not happen)."""
        for phase, at in self.phases:
            if phase == name:
                return at
        return _NAN

    def metrics(self) -> dict[str, Any]:
        """The record as the flat row the command line and result files use."""

        def num(value: float) -> float | None:
            return None if math.isnan(value) else value

        ok = self.ok
        return {
            "strategy": self.strategy,
            "pid": self.pid,
            "source": self.source,
            "destination": self.destination,
            "latency_s": num(self.latency_s) if ok else None,
            "freeze_s": num(self.freeze_s) if ok else None,
            "message_freeze_s": self.message_freeze_s if ok else None,
            "total_s": num(self.total_s) if ok else None,
            "residual_s": num(self.residual_s) if ok else None,
            "bytes_total": self.bytes_total,
            "messages_total": self.messages_total,
            "state_bytes": self.state_bytes,
            "pages_bytes": self.bytes_by_kind.get("pages", 0),
            "flush_bytes": self.bytes_by_kind.get("flush", 0),
            "remote_faults": self.remote_faults,
            "stall_s": self.stall_s,
            "home_calls": self.home_calls,
            "home_call_s": self.home_call_s,
            "home_bytes": self.home_bytes,
            "messages_held": self.messages_held,
            "rounds": list(self.rounds),
            "slowdown": self.slowdown,
            "refused": self.refused,
            "failed": self.failed,
        }

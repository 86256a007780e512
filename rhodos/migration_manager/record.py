"""The migration record: one migration, measured the way the literature measured it.

Definitions (DESIGN.md, "Migration"), used everywhere in the project:

* **latency**: request accepted -> process runs again on the destination.
* **freeze time**: process stops executing -> process runs again.
* **message freeze time**: the interval during which a message sent to the process
  could be neither received nor queued for it where it will run: from the instant the
  source's mailbox stopped being where the process will run (the source's IPC Manager
  began holding its messages, or the process was frozen, whichever came first) until
  its communication state was installed where it will run. The IPC Managers measure
  it whatever the strategy (:mod:`rhodos.ipc_manager.server`).
* **message delay**: per message that reached a node where it could be neither received
  nor queued where the process will run (held, queued in the mailbox the migration
  moves, or forwarded), the extra delay it suffered, until it reached the process's
  communication state where the process runs or will run; the record keeps their
  count, maximum and mean (both 0 when no message was delayed: the count says so).
* **total time**: request -> the source holds nothing the process needs.
* **residual dependency time**: resume -> the last dependency on the source ends.
* **bytes and messages** on the network by kind (state, pages, control, forwarded,
  flush, files), booked to the process from the request until the record is complete;
  the process's own traffic (``user``) and its home-node calls (``home``) are not
  migration cost and are counted apart.
* **remote faults and stall**: page faults resolved across the network after resume,
  and the time the process waited for them.
* **files**: open files moved, and the dirty blocks of their cache flushed to the file
  server or moved to the destination's cache (rows carry them when the run has files).
* **slowdown**: the migrated process's completion time over the same run's without
  migration (filled in by the experiment layer, which runs both).
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from rhodos.migration_manager.metrics import FILE_METRICS, METRICS

__all__ = ["MIGRATION_COST_KINDS", "MigrationRecord"]

#: Traffic kinds that are the cost of a migration.
MIGRATION_COST_KINDS = ("control", "state", "pages", "forwarded", "flush", "files")

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
    message_delay_max_s: float = 0.0
    message_delay_mean_s: float = 0.0
    messages_delayed: int = 0
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
    #: Open files moved to the destination's File Manager.
    files_moved: int = 0
    #: Dirty file blocks written back to the file server by the migration.
    file_blocks_flushed: int = 0
    #: Dirty file blocks sent to the destination's block cache.
    file_blocks_moved: int = 0
    #: What a crash made of the migration (``None``: no crash touched it):
    #: ``rolled-back`` (the process runs on at the source), ``process-lost`` (it could
    #: not go on: ``failed`` says why), ``source-crashed`` (the node running the
    #: migration died: ``failed`` says where the process was), ``residual-lost`` (the
    #: process ran at the destination, which crashed during the residual dependency),
    #: ``residual-kept`` (another node's crash -- the file server's during a flush --
    #: left the source serving pages for longer than the strategy promises).
    outcome: str | None = None

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

    @property
    def pages_bytes(self) -> int:
        """Bytes of pages on the network (the ``pages`` traffic kind)."""
        return self.bytes_by_kind.get("pages", 0)

    @property
    def flush_bytes(self) -> int:
        """Bytes flushed to the file server (the ``flush`` traffic kind)."""
        return self.bytes_by_kind.get("flush", 0)

    @property
    def phase_at(self) -> dict[str, float]:
        """Phase name -> when it first happened (what a claim reads: ``r.phase_at['frozen']``)."""
        return {name: at for name, at in reversed(self.phases)}

    def phase(self, name: str) -> float:
        """The time of phase ``name`` (NaN when it did not happen)."""
        for phase, at in self.phases:
            if phase == name:
                return at
        return _NAN

    def metrics(self, *, files: bool = False) -> dict[str, Any]:
        """The record as the flat row the command line and result files use: who migrated
        what where, every metric of :data:`~rhodos.migration_manager.metrics.METRICS` in
        order (``None`` where undefined: a NaN; every metric of a refused migration, which
        did not happen, so that nothing it did half-way is counted), with ``files`` those
        of :data:`~rhodos.migration_manager.metrics.FILE_METRICS` after them, then why it
        was refused or why it failed."""
        row: dict[str, Any] = {
            "strategy": self.strategy,
            "pid": self.pid,
            "source": self.source,
            "destination": self.destination,
        }
        for metric in METRICS + (FILE_METRICS if files else ()):
            value = getattr(self, metric.name)
            if not self.ok or (isinstance(value, float) and math.isnan(value)):
                value = None
            row[metric.name] = list(value) if isinstance(value, tuple) else value
        row["refused"] = self.refused
        row["failed"] = self.failed
        return row

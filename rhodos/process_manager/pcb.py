"""The process control block: what the Process Manager knows of a process."""

from __future__ import annotations

import attrs

from rhodos.kernel import ExecutionContext, Layout

__all__ = ["PCB"]

#: The states a PCB passes through.
STATES = ("running", "frozen", "migrating", "exited", "lost")


@attrs.define(eq=False)
class PCB:
    """One process, as the Process Manager of the node it runs on holds it."""

    pid: int
    name: str
    home: int
    node: int
    layout: Layout
    created_at: float
    state: str = "running"
    priority: int = 0
    migrations: int = 0
    exited_at: float | None = None
    context: ExecutionContext | None = None

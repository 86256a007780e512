"""The process control block: what the Process Manager knows of a process."""

from __future__ import annotations

import attrs

from rhodos.kernel import ExecutionContext, Layout

__all__ = ["PCB", "ProcessSnapshot"]

#: The states a PCB passes through.
STATES = ("running", "frozen", "migrating", "exited")


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

    def snapshot(self) -> ProcessSnapshot:
        """A frozen copy for summaries and records."""
        ctx = self.context
        return ProcessSnapshot(
            pid=self.pid,
            name=self.name,
            home=self.home,
            node=self.node,
            state=self.state,
            pages=self.layout.pages,
            created_at=self.created_at,
            exited_at=self.exited_at,
            migrations=self.migrations,
            cpu_seconds=ctx.cpu_seconds if ctx else 0.0,
            faults=ctx.faults if ctx else 0,
            remote_faults=ctx.remote_faults if ctx else 0,
            fault_stall_s=ctx.fault_stall_s if ctx else 0.0,
            home_call_s=ctx.home_call_s if ctx else 0.0,
            messages_sent=ctx.messages_sent if ctx else 0,
            messages_received=ctx.messages_received if ctx else 0,
            home_calls=ctx.home_calls if ctx else 0,
        )


@attrs.frozen
class ProcessSnapshot:
    """A process's accounting at one instant."""

    pid: int
    name: str
    home: int
    node: int
    state: str
    pages: int
    created_at: float
    exited_at: float | None
    migrations: int
    cpu_seconds: float
    faults: int
    remote_faults: int
    fault_stall_s: float
    home_call_s: float
    messages_sent: int
    messages_received: int
    home_calls: int

"""The requests the Process Manager handles, and its replies that carry several values.

The kernel's traps to it -- :class:`~rhodos.kernel.HomeService` (a location-dependent
call) and :class:`~rhodos.kernel.ThreadExited` -- are declared in the kernel.
"""

from __future__ import annotations

from typing import Any

import attrs

from rhodos.kernel import Layout, Request
from rhodos.memory_manager.requests import CriticalBundle
from rhodos.process_manager.pcb import PCB

__all__ = [
    "Abandon",
    "Capture",
    "Captured",
    "Departed",
    "Install",
    "MigrateOut",
    "ProcessSnapshot",
    "Restart",
    "Resume",
    "Resumed",
    "Spawn",
    "StateMoved",
    "Status",
    "Suspend",
    "Suspended",
]


@attrs.frozen(eq=False)
class Spawn(Request):
    """System -> Process Manager: create process ``pid`` running ``program`` (a generator of
    actions) in an address space of ``layout``; reply the pid."""

    pid: int
    name: str
    program: Any
    layout: Layout


@attrs.frozen
class Suspend(Request):
    """Migration Manager -> Process Manager: freeze ``pid`` here; reply :class:`Suspended`
    (``None``: not here, or it exited)."""

    pid: int


@attrs.frozen
class Resume(Request):
    """Migration Manager -> Process Manager: run the frozen ``pid`` here again; reply whether
    it was frozen (``False`` too when it is not here)."""

    pid: int


@attrs.frozen(eq=False)
class MigrateOut(Request):
    """Migration Manager -> source Process Manager: send ``pid``'s execution state to
    ``dest`` (``start``: resume it on arrival); reply :class:`StateMoved` (``None``: it
    exited before it could be frozen).

    With a ``bundle`` (freeze-free's critical pages) the state travels with it as ONE
    one-way message, and the destination reports the instant it resumed to the port
    ``notify`` (:class:`Resumed`) instead of replying.
    """

    pid: int
    dest: int
    start: bool = True
    bundle: CriticalBundle | None = None
    notify: int | None = None


@attrs.frozen(eq=False)
class Install(Request):
    """Source Process Manager -> destination Process Manager: the execution state (``pcb``)
    arrives, with freeze-free's ``bundle`` and ``notify`` port; reply the instant it was
    installed."""

    pcb: PCB
    start: bool
    bundle: CriticalBundle | None = None
    notify: int | None = None


@attrs.frozen
class Departed(Request):
    """Destination Process Manager -> source Process Manager: ``pid`` committed on ``dest``
    after a one-way move; the source lets go of its PCB (one-way)."""

    pid: int
    dest: int


@attrs.frozen
class Abandon(Request):
    """Migration Manager -> source Process Manager: the frozen ``pid`` cannot go on (part of
    it was lost with a crashed node): end it here as lost, saying ``why``; reply whether
    it was here."""

    pid: int
    why: str


@attrs.frozen
class Capture(Request):
    """Migration Manager -> Process Manager: reply ``pid``'s :class:`Captured` execution
    state, frozen for a checkpoint (``None``: not here, or not frozen)."""

    pid: int


@attrs.frozen(eq=False)
class Captured:
    """A process's execution state as a checkpoint stores it."""

    pid: int
    name: str
    home: int
    layout: Layout
    context: Any


@attrs.frozen(eq=False)
class Restart(Request):
    """Recovery manager -> Process Manager: run ``pid`` again here from its checkpoint
    image (the execution ``context`` to run, in an address space of ``layout`` read from
    the checkpoint; the communication state ``comm`` the checkpoint holds and the
    messages ``received`` since, from the message log); reply the instant it runs."""

    pid: int
    name: str
    home: int
    layout: Layout
    context: Any
    comm: Any = None
    received: tuple[Any, ...] = ()


@attrs.frozen
class Status(Request):
    """Anyone -> Process Manager: reply ``pid``'s :class:`ProcessSnapshot`, the node it left
    for, or ``None`` if it never was here."""

    pid: int


@attrs.frozen
class Resumed(Request):
    """Destination Process Manager -> the ``notify`` port of a one-way move: the process
    runs again since ``at`` (one-way)."""

    at: float


@attrs.frozen
class StateMoved:
    """The reply to :class:`MigrateOut`: bytes of state sent, and when it was installed
    (NaN for a one-way move)."""

    bytes: int
    installed_at: float


@attrs.frozen
class ProcessSnapshot:
    """A process's accounting at one instant (the reply to :class:`Status`)."""

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
    #: Descriptors open (the File Manager of its node holds them).
    open_files: int = 0

    @classmethod
    def of(cls, pcb: PCB) -> ProcessSnapshot:
        """The snapshot of ``pcb`` now."""
        ctx = pcb.context
        return cls(
            pid=pcb.pid,
            name=pcb.name,
            home=pcb.home,
            node=pcb.node,
            state=pcb.state,
            pages=pcb.layout.pages,
            created_at=pcb.created_at,
            exited_at=pcb.exited_at,
            migrations=pcb.migrations,
            cpu_seconds=ctx.cpu_seconds if ctx else 0.0,
            faults=ctx.faults if ctx else 0,
            remote_faults=ctx.remote_faults if ctx else 0,
            fault_stall_s=ctx.fault_stall_s if ctx else 0.0,
            home_call_s=ctx.home_call_s if ctx else 0.0,
            messages_sent=ctx.messages_sent if ctx else 0,
            messages_received=ctx.messages_received if ctx else 0,
            home_calls=ctx.home_calls if ctx else 0,
            open_files=ctx.open_files if ctx else 0,
        )


@attrs.frozen
class Suspended:
    """The reply to :class:`Suspend`: the instant the process stopped, and its accounting
    then (the migration's baseline for faults and home calls after the resume: it rides
    on the reply, so reading it costs no request of its own)."""

    at: float
    accounting: ProcessSnapshot

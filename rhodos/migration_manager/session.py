"""A migration in progress, and the requests a strategy can make of the servers.

A strategy never touches a resource: it asks, through a :class:`Session`, the server
that owns it to transfer it -- the Process Manager the execution state, the Memory
Manager the address space, the IPC Manager the communication state. Every method here
is one request (a kernel message from the source's Migration Manager) and is used as
``result = yield from session.method(...)`` inside a strategy step.

The session also keeps the timestamps of the phases; the Migration Manager turns them
into the :class:`~rhodos.migration_manager.record.MigrationRecord`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from rhodos.kernel import FILE, MachineProfile, Message, Node

if TYPE_CHECKING:
    from rhodos.migration_manager.strategy import Strategy

__all__ = ["ProcessExited", "Session", "Steps"]

#: What a strategy step is: a simpy generator.
Steps = Generator[simpy.events.Event, Any, Any]


class ProcessExited(ProcessLookupError):
    """The process exited before it could be frozen: the migration is called off.

    The Migration Manager catches it, undoes what the destination received
    (:meth:`Session.abort`) and records a refusal.
    """


class Session:
    """One migration of ``pid`` from ``source`` to ``dest`` with ``strategy``."""

    def __init__(self, node: Node, pid: int, dest: int, strategy: Strategy) -> None:
        self.node = node
        self.env: simpy.Environment = node.env
        self.pid = pid
        self.source = node.node_id
        self.dest = dest
        self.strategy = strategy
        self.profile: MachineProfile = node.profile
        self.phases: list[tuple[str, float]] = []
        self.rounds: list[int] = []
        self.message_freeze_s = 0.0
        self.messages_held = 0
        self._hold_at: float | None = None
        #: The process's accounting when it was frozen (faults after resume = final - this).
        self.baseline: Any = None
        self.background: list[simpy.Process] = []

    # -- bookkeeping ---------------------------------------------------------------
    def mark(self, phase: str, at: float | None = None) -> None:
        """Record that ``phase`` happened (now, or at ``at``)."""
        when = float(self.env.now if at is None else at)
        self.phases.append((phase, when))
        self.node.cluster.log.record(
            self.source, "migration", phase, pid=self.pid, dest=self.dest, at=when
        )

    def in_background(self, steps: Steps) -> simpy.Process:
        """Run ``steps`` alongside the strategy; the migration waits for them before it ends."""
        process = self.env.process(steps)
        self.background.append(process)
        return process

    def time_of(self, phase: str) -> float | None:
        """When ``phase`` happened, if it did."""
        for name, at in self.phases:
            if name == phase:
                return at
        return None

    def _ask(self, node: int, role: str, kind: str, body: Any) -> Generator[Any, Any, Any]:
        port = self.node.cluster.role_port(node, role)
        reply: Message = yield self.node.call(port, kind, body, account=self.pid)
        return reply.body

    # -- Process Manager -----------------------------------------------------------
    def freeze(self) -> Steps:
        """Stop the process at the source (it keeps its place in memory)."""
        stopped_at = yield from self._ask(self.source, "process", "suspend", self.pid)
        if stopped_at is None:
            raise ProcessExited(f"process {self.pid} exited before it could be frozen")
        self.mark("frozen", stopped_at)
        self.baseline = yield from self._ask(self.source, "process", "status", self.pid)

    def move_state(self, *, start: bool = True) -> Steps:
        """The Process Manager sends the execution state; ``start`` resumes it on arrival."""
        _size, installed_at = yield from self._ask(
            self.source, "process", "migrate_out", (self.pid, self.dest, start)
        )
        self.mark("state-installed", installed_at)
        if start:
            self.mark("resumed", installed_at)

    def blast_state(self, bundle: tuple[Any, int]) -> Steps:
        """Freeze-free: execution state and ``bundle`` in ONE one-way message.

        The destination resumes the process as soon as it arrives and reports the
        time it resumed; no request/reply crosses the network before the resume.
        """
        notify = self.node.create_port("migration-notify")
        try:
            yield from self._ask(
                self.source,
                "process",
                "migrate_out",
                (self.pid, self.dest, True, bundle, notify.port_id),
            )
            note = yield notify.get()
        finally:
            self.node.cluster.close_port(notify.port_id)
        self.mark("resumed", float(note.body))

    def resume(self) -> Steps:
        """Start a process whose state was installed with ``start=False``."""
        yield from self._ask(self.dest, "process", "resume", self.pid)
        self.mark("resumed")

    # -- Memory Manager ------------------------------------------------------------
    def describe(self) -> Generator[Any, Any, Any]:
        """The address space as the source holds it (a ``SpaceInfo``)."""
        info = yield from self._ask(self.source, "memory", "describe", self.pid)
        return self._still_there(info)

    def _still_there(self, answer: Any) -> Any:
        """The source's Memory Manager answers ``None`` about a space it no longer holds:
        before the freeze, that means the process exited."""
        if answer is None:
            raise ProcessExited(f"process {self.pid} exited while it was being migrated")
        return answer

    def export_space(
        self, *, clean: str = "source", dirty: str = "source", prefetch: int = 0
    ) -> Steps:
        """Send the page map; resident pages will be found at the source or the file server."""
        size = yield from self._ask(
            self.source, "memory", "export_space", (self.pid, self.dest, (clean, dirty), prefetch)
        )
        self._still_there(size)
        self.mark("page-map-sent")
        return size

    def send_pages(self, which: Any, *, keep: bool = False, overwrite: bool = True) -> Steps:
        """Move (``keep``: copy) a page set to the destination as one flow; returns pages."""
        pages: int = yield from self._ask(
            self.source, "memory", "send_pages", (self.pid, self.dest, which, keep, overwrite)
        )
        return self._still_there(pages)

    def flush(self, which: str = "dirty") -> Steps:
        """Write a page set from the source to the file server; returns pages."""
        pages: int = yield from self._ask(self.source, "memory", "flush", (self.pid, which))
        self.mark("flushed")
        return pages

    def critical_bundle(self, stack_bytes: int) -> Steps:
        """Freeze-free's four items from the source Memory Manager (a local request)."""
        port = self.node.cluster.role_port(self.source, "memory")
        reply: Message = yield self.node.call(
            port, "export_critical", (self.pid, self.dest, stack_bytes), account=self.pid
        )
        return reply.body, reply.size_bytes

    def relocate_to_file(self) -> Steps:
        """Tell the destination that pages it expected from the source are on the file server."""
        yield from self._ask(self.dest, "memory", "relocate", (self.pid, self.source, FILE))

    def push(self, rate: float, batch: int) -> Steps:
        """The source pushes every page it still holds; returns the pages pushed."""
        pushed: int = yield from self._ask(
            self.source, "memory", "push", (self.pid, self.dest, rate, batch)
        )
        return pushed

    def free_source(self) -> Steps:
        """The source drops what it still holds; marks the residual end if not marked yet."""
        yield from self._ask(self.source, "memory", "free", self.pid)
        if self.time_of("residual-end") is None:
            self.mark("residual-end")

    def source_released(self) -> Steps:
        """Wait until the source holds nothing of the process; that ends the residual dependency."""
        released_at = yield from self._ask(self.source, "memory", "wait_released", self.pid)
        self.mark("residual-end", released_at)

    def abort(self) -> Steps:
        """Undo a migration called off before the freeze (the process exited meanwhile).

        The destination drops the address space it may have received; the source's IPC
        Manager stops holding messages for the process.
        """
        yield from self._ask(self.dest, "memory", "free", self.pid)
        yield from self._ask(self.source, "ipc", "close", self.pid)
        self.mark("aborted")

    # -- IPC Manager ---------------------------------------------------------------
    def hold_messages(self) -> Steps:
        """Hold messages at the source: the message freeze begins."""
        self._hold_at = yield from self._ask(self.source, "ipc", "hold", self.pid)

    def move_comm(self, *, oneway: bool = False) -> Steps:
        """The IPC Manager moves the communication state (and held messages) to the destination.

        The message freeze -- from the hold to the state's installation where the process
        will run -- is measured here. ``oneway`` sends the state without waiting for an
        acknowledgement (nothing was held, so no freeze is running).
        """
        _size, held, installed_at = yield from self._ask(
            self.source, "ipc", "migrate_out", (self.pid, self.dest, oneway)
        )
        self.messages_held += held
        if self._hold_at is not None:
            if oneway:
                raise RuntimeError("a one-way move cannot end a message hold: nothing reports it")
            self.message_freeze_s += installed_at - self._hold_at
            self._hold_at = None
        self.mark("comm-moved" if not oneway else "comm-sent", None if oneway else installed_at)

"""A migration in progress, and the requests a strategy can make of the servers.

A strategy never touches a resource: it asks, through a :class:`Session`, the server
that owns it to transfer it -- the Process Manager the execution state, the Memory
Manager the address space, the IPC Manager the communication state, the File Manager
the open files. Every method here
is one request (a kernel message from the source's Migration Manager) and is used as
``result = yield from session.method(...)`` inside a strategy step.

The session also keeps the timestamps of the phases; the Migration Manager turns them
into the :class:`~rhodos.migration_manager.record.MigrationRecord`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from rhodos.file_manager import requests as fm
from rhodos.ipc_manager import requests as ipc
from rhodos.kernel import FILE, MachineProfile, Message, Node, Request, RequestFailed
from rhodos.memory_manager import requests as mm
from rhodos.memory_manager.requests import CriticalBundle, PageHolder, PageSet, SpaceInfo
from rhodos.process_manager import requests as pm
from rhodos.process_manager.requests import ProcessSnapshot

__all__ = ["MigrationFailed", "PageHolder", "PageSet", "ProcessExited", "Session", "Steps"]

#: What a strategy step is: a simpy generator.
Steps = Generator[simpy.events.Event, Any, Any]


class ProcessExited(ProcessLookupError):
    """The process exited before it could be frozen: the migration is called off.

    The Migration Manager catches it, undoes what the destination received
    (:meth:`Session.abort`) and records a refusal.
    """


class MigrationFailed(RuntimeError):
    """A server could not do what the migration asked (it answered with a
    :class:`~rhodos.kernel.Failure`), or the strategy ended in a state the protocol does
    not allow: the migration ends, recorded as failed. ``crashed`` names the node whose
    crash caused it (``None``: not a crash)."""

    def __init__(self, reason: str, crashed: int | None = None) -> None:
        super().__init__(reason, crashed)  # simpy re-raises it as type(error)(*error.args)
        self.reason = reason
        self.crashed = crashed

    def __str__(self) -> str:
        return self.reason


class Session:
    """One migration of ``pid`` from ``source`` (the node of ``node``) to ``dest``."""

    def __init__(self, node: Node, pid: int, dest: int) -> None:
        self.node = node
        self.env: simpy.Environment = node.env
        self.pid = pid
        self.source = node.node_id
        self.dest = dest
        self.profile: MachineProfile = node.profile
        self.phases: list[tuple[str, float]] = []
        self.rounds: list[int] = []
        self.messages_held = 0
        #: The process's accounting when it was frozen (faults after resume = final - this).
        self.baseline: ProcessSnapshot | None = None
        self.background: list[simpy.Process] = []
        self._background_failures: list[str] = []
        self._background_crash: int | None = None
        #: The negotiation with the destination (source node, number), once asked.
        self.ticket: tuple[int, int] | None = None
        #: What the File Manager moved (nothing until :meth:`move_files`).
        self.files = fm.FilesMoved()
        #: Pages of the space held on other nodes when the migration was accepted: more
        #: afterwards means some moved to the destination (a rollback must have them).
        self.remote_before = 0
        #: Phase -> the event of its being marked, for steps that wait for it.
        self._awaited: dict[str, simpy.Event] = {}

    # -- bookkeeping ---------------------------------------------------------------
    def mark(self, phase: str, at: float | None = None) -> None:
        """Record that ``phase`` happened (now, or at ``at``)."""
        when = float(self.env.now if at is None else at)
        self.phases.append((phase, when))
        self.node.log("migration", phase, pid=self.pid, dest=self.dest, at=when)
        awaited = self._awaited.pop(phase, None)
        if awaited is not None:
            awaited.succeed(when)

    def when(self, phase: str) -> simpy.Event:
        """The event of ``phase`` being marked (already triggered if it has been): a step
        run in the background waits for it with ``yield session.when("resumed")``."""
        at = self.time_of(phase)
        if at is not None:
            return self.env.event().succeed(at)
        if phase not in self._awaited:
            self._awaited[phase] = self.env.event()
        return self._awaited[phase]

    def in_background(self, steps: Steps) -> simpy.Process:
        """Run ``steps`` alongside the strategy; the migration waits for them before it ends."""
        process = self.env.process(self._guarded(steps))
        self.background.append(process)
        return process

    def _guarded(self, steps: Steps) -> Steps:
        try:
            return (yield from steps)
        except MigrationFailed as error:  # told when the migration waits for its steps
            self._background_failures.append(str(error))
            if error.crashed is not None:
                self._background_crash = error.crashed
            return None

    def raise_background_failure(self) -> None:
        """Raise :class:`MigrationFailed` if a step run in the background failed."""
        if self._background_failures:
            raise MigrationFailed("; ".join(self._background_failures), self._background_crash)

    def time_of(self, phase: str) -> float | None:
        """When ``phase`` happened, if it did."""
        for name, at in self.phases:
            if name == phase:
                return at
        return None

    def _ask(self, node: int, role: str, request: Request, **size: Any) -> Generator[Any, Any, Any]:
        port = self.node.role_port(role, node)
        try:
            reply: Message = yield self.node.call(port, request, account=self.pid, **size)
        except RequestFailed as failed:
            raise MigrationFailed(f"node {node}: {failed}", failed.failure.crashed) from failed
        return reply.body

    # -- Process Manager -----------------------------------------------------------
    def freeze(self) -> Steps:
        """Stop the process at the source (it keeps its place in memory); its accounting
        at that instant comes with the reply."""
        suspended: pm.Suspended | None = yield from self._ask(
            self.source, "process", pm.Suspend(self.pid)
        )
        if suspended is None:
            raise ProcessExited(f"process {self.pid} exited before it could be frozen")
        self.mark("frozen", suspended.at)
        self.baseline = suspended.accounting

    def move_state(self, *, start: bool = True) -> Steps:
        """The Process Manager sends the execution state; ``start`` resumes it on arrival."""
        moved: pm.StateMoved = yield from self._ask(
            self.source, "process", pm.MigrateOut(self.pid, self.dest, start)
        )
        self._still_there(moved)
        self.mark("state-installed", moved.installed_at)
        if start:
            self.mark("resumed", moved.installed_at)

    def blast_state(self, bundle: CriticalBundle, *, meanwhile: Steps | None = None) -> Steps:
        """Freeze-free: execution state and ``bundle`` in ONE one-way message.

        The destination resumes the process as soon as it arrives and reports the
        time it resumed; no request/reply crosses the network before the resume. Once
        the message has been delivered (the source's kernel has sent it all), the
        source runs ``meanwhile`` in the background without waiting for the report:
        the old host flushes while the process resumes and runs on the new one.
        """
        notify = self.node.create_port("migration-notify")
        try:
            moved = yield from self._ask(
                self.source,
                "process",
                pm.MigrateOut(self.pid, self.dest, True, bundle, notify.port_id),
            )
            self._still_there(moved)
            if meanwhile is not None:
                self.in_background(meanwhile)
            try:
                note = yield from self.node.await_from(self.dest, notify.get(), "resumed")
            except RequestFailed as failed:
                raise MigrationFailed(f"node {self.dest}: {failed}", self.dest) from failed
        finally:
            self.node.close_port(notify.port_id)
        resumed: pm.Resumed = note.body
        self.mark("resumed", resumed.at)

    def resume(self) -> Steps:
        """Start a process whose state was installed with ``start=False``."""
        yield from self._ask(self.dest, "process", pm.Resume(self.pid))
        self.mark("resumed")

    # -- Memory Manager ------------------------------------------------------------
    def describe(self) -> Generator[Any, Any, SpaceInfo]:
        """The address space as the source holds it."""
        info = yield from self._ask(self.source, "memory", mm.Describe(self.pid))
        return self._still_there(info)

    def _still_there(self, answer: Any) -> Any:
        """The source's servers answer ``None`` about a process they no longer hold: before
        the freeze, it exited (the migration is called off); once it is frozen, it cannot
        have, and the migration fails."""
        if answer is None:
            if self.time_of("frozen") is None:
                raise ProcessExited(f"process {self.pid} exited while it was being migrated")
            raise MigrationFailed(
                f"node {self.source} no longer holds frozen process {self.pid}'s state"
            )
        return answer

    def export_space(
        self,
        *,
        clean: PageHolder = PageHolder.SOURCE,
        dirty: PageHolder = PageHolder.SOURCE,
        prefetch: int = 0,
    ) -> Steps:
        """Send the page map; the clean and dirty pages resident at the source will be found
        at ``clean`` and ``dirty`` (the source, or the file server for clean pages)."""
        size = yield from self._ask(
            self.source, "memory", mm.ExportSpace(self.pid, self.dest, clean, dirty, prefetch)
        )
        self._still_there(size)
        self.mark("page-map-sent")
        return size

    def send_pages(
        self,
        which: PageSet | npt.NDArray[np.int64],
        *,
        keep: bool = False,
        overwrite: bool = True,
    ) -> Steps:
        """Move (``keep``: copy) a page set to the destination as one flow; returns pages."""
        pages: int = yield from self._ask(
            self.source, "memory", mm.SendPages(self.pid, self.dest, which, keep, overwrite)
        )
        return self._still_there(pages)

    def pages(self, which: PageSet) -> Generator[Any, Any, npt.NDArray[np.int64]]:
        """The page numbers of the set ``which`` as the source holds it now, as an array
        (a local request): a strategy computes its own page sets from them and sends
        them with :meth:`send_pages` (``np.setdiff1d``, ``np.intersect1d``...)."""
        pages = yield from self._ask(self.source, "memory", mm.Select(self.pid, which))
        selected: npt.NDArray[np.int64] = self._still_there(pages)
        return selected

    def invalidate(self, pages: npt.NDArray[np.int64]) -> Steps:
        """The destination drops its copies of ``pages``, stale since they were copied (the
        process wrote them at the source): it will find them at the source, where a fault
        fetches one and :meth:`send_pages` moves them. Returns how many it dropped; the
        page numbers cross the network, 4 bytes each."""
        dropped: int = yield from self._ask(
            self.dest,
            "memory",
            mm.Invalidate(self.pid, pages, self.source),
            size_bytes=64 + 4 * int(np.size(pages)),
            traffic="state",
        )
        return dropped

    def flush(self, which: PageSet | npt.NDArray[np.int64] = PageSet.DIRTY) -> Steps:
        """Write a page set from the source to the file server; returns pages.

        After the resume the process may have exited on the destination already, and its
        release reached the source first: nothing is left to flush then (0 pages).
        """
        pages: int | None = yield from self._ask(self.source, "memory", mm.Flush(self.pid, which))
        if pages is None and self.time_of("resumed") is None:
            self._still_there(pages)
        self.mark("flushed")
        return pages or 0

    def critical_bundle(self) -> Generator[Any, Any, CriticalBundle]:
        """Freeze-free's four items from the source Memory Manager (a local request): the
        current code and heap pages whole, and the stack page from the stack pointer."""
        bundle: CriticalBundle = yield from self._ask(
            self.source, "memory", mm.ExportCritical(self.pid, self.dest)
        )
        return self._still_there(bundle)

    def relocate_to_file(self) -> Steps:
        """Tell the destination that pages it expected from the source are on the file server."""
        yield from self._ask(self.dest, "memory", mm.Relocate(self.pid, self.source, FILE))

    def push(self, rate: float, batch: int) -> Steps:
        """The source pushes every page it still holds; returns the pages pushed."""
        pushed: int = yield from self._ask(
            self.source, "memory", mm.Push(self.pid, self.dest, rate, batch)
        )
        return pushed

    def free_source(self) -> Steps:
        """The source drops what it still holds; marks the residual end if not marked yet."""
        yield from self._ask(self.source, "memory", mm.Free(self.pid))
        if self.time_of("residual-end") is None:
            self.mark("residual-end")

    def source_released(self) -> Steps:
        """Wait until the source holds nothing of the process; that ends the residual dependency."""
        released_at = yield from self._ask(self.source, "memory", mm.WaitReleased(self.pid))
        self.mark("residual-end", released_at)

    def abort(self) -> Steps:
        """Undo a migration called off before the freeze (the process exited meanwhile).

        The destination drops the address space it may have received; the source's IPC
        Manager stops holding messages for the process.
        """
        yield from self._ask(self.dest, "memory", mm.Free(self.pid))
        yield from self._ask(self.source, "ipc", ipc.Close(self.pid))
        self.mark("aborted")

    # -- IPC Manager ---------------------------------------------------------------
    def hold_messages(self) -> Steps:
        """Hold messages at the source: the message freeze begins."""
        yield from self._ask(self.source, "ipc", ipc.Hold(self.pid))

    def move_comm(self, *, oneway: bool = False) -> Steps:
        """The IPC Manager moves the communication state (and held messages) to the destination.

        ``oneway`` sends the state without waiting for an acknowledgement. The IPC
        Managers measure the message freeze -- from the hold or the freeze, whichever
        came first, to the state's installation where the process will run -- and each
        delayed message's extra delay; the record reads them from the kernel's ledger.
        """
        moved: ipc.CommMoved = yield from self._ask(
            self.source,
            "ipc",
            ipc.MigrateOut(self.pid, self.dest, oneway, self.time_of("frozen")),
        )
        self.messages_held += moved.held
        self.mark(
            "comm-moved" if not oneway else "comm-sent",
            moved.sent_at if oneway else moved.installed_at,
        )

    # -- File Manager --------------------------------------------------------------
    @property
    def has_open_files(self) -> bool:
        """The process had files open when it was frozen (the Process Manager's accounting)."""
        return self.baseline is not None and self.baseline.open_files > 0

    def move_files(self, blocks: str = "flush") -> Steps:
        """The File Manager moves the process's open files to the destination, their dirty
        blocks flushed to the file server first (``blocks="flush"``) or sent along
        (``"move"``). A process with no open file (the Process Manager's accounting at the
        freeze says how many) has nothing to move: no request is made."""
        if self.baseline is None or not self.baseline.open_files:
            return
        moved: fm.FilesMoved = yield from self._ask(
            self.source, "files", fm.MigrateFiles(self.pid, self.dest, blocks)
        )
        self.files = moved
        if moved.files:
            self.mark("files-moved", moved.installed_at)

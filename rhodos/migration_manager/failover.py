"""What the Migration Manager does when a node crashes during a migration.

A crash is learnt by a timeout (:mod:`rhodos.kernel.failure`): a request to the crashed
node fails with a :class:`~rhodos.kernel.Failure` naming it, and the migration's step
raises :class:`~rhodos.migration_manager.session.MigrationFailed` with ``crashed`` set.

* **Destination or file server crashed before the process ran at the destination**:
  the migration *rolls back* -- the source releases the messages it held and runs the
  process again -- when the source still has everything the process needs (its pages,
  its communication state) and the process was not committed at the destination. When
  part of it was already handed over and is lost, the process cannot go on: it ends,
  reported lost with the reason (the recovery manager may restart it from a checkpoint).
* **After the process ran at the destination**: the migration completed; a crash during
  the residual dependency ends it with the reason, and a process that needs what was
  lost ends when it needs it (its page fault fails), with the reason.
* **Source crashed**: the Migration Manager running the migration died with its node.
  The operator's console (outside the simulated machines) sees its connection drop and
  gets a record saying so; where the process was (committed at the destination, or
  lost with the source) says what became of it. The destination learns of the crash
  from the recovery manager (:class:`~rhodos.kernel.NodeCrashed`) and drops what the
  dead source had sent.

A checkpoint (:class:`~rhodos.migration_manager.requests.Checkpoint`) also runs here:
it freezes the process, as a migration does, so the two exclude each other.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, cast

import attrs
import simpy

from rhodos.ipc_manager.requests import Checkpointed, Orphaned, StopExpecting, Unhold
from rhodos.kernel import (
    CheckpointImage,
    Node,
    NodeCrashed,
    Recorder,
    Request,
    RequestFailed,
    StoreCheckpoint,
    TrafficTally,
)
from rhodos.memory_manager.requests import Describe, Flush, Free, PageSet, Release, SpaceInfo
from rhodos.migration_manager.negotiation import Negotiation
from rhodos.migration_manager.record import MigrationRecord
from rhodos.migration_manager.requests import Checkpoint, Migrate
from rhodos.migration_manager.session import MigrationFailed, Session
from rhodos.migration_manager.strategy import Strategy
from rhodos.process_manager.requests import (
    Abandon,
    Capture,
    Captured,
    ProcessSnapshot,
    Resume,
    Suspend,
)

__all__ = ["Failover"]

#: What became of a migration whose run a crash cut short (``MigrationRecord.outcome``).
OUTCOMES = ("rolled-back", "process-lost", "source-crashed", "residual-lost")


class Failover(Negotiation):
    """Rollback, the console's answer when the source dies, crash notices, checkpoints."""

    def __init__(self, node: Node) -> None:
        #: id of a Migrate request -> the console's answer to it.
        self._consoles: dict[int, simpy.Event] = {}
        #: id of a Migrate request -> the migration it runs (until its record is made).
        self._running: dict[int, tuple[Session, Strategy, TrafficTally]] = {}
        super().__init__(node)
        node.on_crash.append(self._orphan)

    def _finish(
        self,
        session: Session,
        strategy: Strategy,
        before: TrafficTally,
        *,
        refused: str | None = None,
        failed: str | None = None,
        baseline: ProcessSnapshot | None = None,
        final: ProcessSnapshot | None = None,
        outcome: str | None = None,
    ) -> MigrationRecord:
        raise NotImplementedError  # the Migration Manager's

    # -- the console -------------------------------------------------------------
    def serve(self, request: Request) -> simpy.Event:
        """As :meth:`Server.serve`; a migration's answer also comes when this node crashes."""
        process = super().serve(request)
        if not isinstance(request, Migrate) or not self.node.detecting:
            return process  # no crash is expected: nothing to watch for
        answer = self.env.event()
        self._consoles[id(request)] = answer

        def relay(event: simpy.Event) -> None:
            self._consoles.pop(id(request), None)
            if answer.triggered:
                return
            if event.ok:
                answer.succeed(event.value)
            else:
                event.defused = True
                answer.fail(cast(Exception, event.value))

        process.callbacks.append(relay)
        return answer

    def _orphan(self) -> None:
        """This node crashes: answer the console of every migration running here."""
        for key, (session, strategy, before) in list(self._running.items()):
            pid = session.pid
            phase = session.phases[-1][0] if session.phases else "requested"
            committed = self.node.location_of(pid) == session.dest
            fate = (
                f"process {pid} had been installed on node {session.dest} and runs there"
                if committed
                else f"process {pid} was still on node {session.source} and was lost with it"
            )
            record = self._finish(
                session,
                strategy,
                before,
                failed=f"node {session.source} (the source) crashed after {phase}: {fate}",
                outcome="source-crashed",
            )
            answer = self._consoles.pop(key, None)
            if answer is not None and not answer.triggered:
                answer.succeed(record)
        self._running.clear()

    # -- rollback ----------------------------------------------------------------
    def _roll_back(
        self, session: Session, error: MigrationFailed
    ) -> Generator[simpy.events.Event, Any, tuple[str, str]]:
        """A crash stopped the migration before the process ran at the destination: run
        it at the source again if it has all it needs; else end it. Returns the outcome
        and the reason for the record."""
        pid, node = session.pid, self.node
        crashed = f"node {error.crashed} crashed during the migration ({error})"
        if node.location_of(pid) != node.node_id:
            return "process-lost", (
                f"{crashed}; process {pid} had been installed on node {session.dest}, "
                "which crashed: it was lost there"
            )
        frozen = session.time_of("frozen") is not None
        info: SpaceInfo | None = yield from self._local("memory", Describe(pid))
        lost = None
        if info is None:
            lost = "its address space is no longer here"
        elif info.remote > session.remote_before:
            lost = f"{info.remote - session.remote_before} of its pages had moved there"
        if lost is None:
            released = yield from self._local("ipc", Unhold(pid))
            if released is None or released < 0:
                lost = "its communication state had moved there"
        if lost is not None:
            why = f"{crashed}; process {pid} cannot go on: {lost}"
            yield from self._local("process", Abandon(pid, why))
            return "process-lost", why
        if frozen:
            yield from self._local("process", Resume(pid))
        session.mark("rolled-back")
        return "rolled-back", f"{crashed}; rolled back: process {pid} runs on at the source"

    def _local(self, role: str, request: Request) -> Generator[simpy.events.Event, Any, Any]:
        reply = yield self.node.call(self.node.role_port(role), request)
        return reply.body

    # -- crash notices -----------------------------------------------------------
    def _node_crashed(self, req: NodeCrashed) -> Generator[simpy.events.Event, Any, None]:
        """Drop what was held here for migrations to or from the crashed node."""
        here = self.node.node_id
        for pid, ticket in list(self._accepted.items()):
            if ticket[0] != req.node:
                continue
            del self._accepted[pid]
            self.incoming.discard(pid)
            if self.node.location_of(pid) != here:  # it never came: drop what it sent
                self.log("source-crashed", pid=pid, source=req.node)
                yield from self._local("ipc", StopExpecting(pid, req.node))
                yield from self._local("memory", Free(pid))
            else:  # it runs here: what was still on its way from the source is lost
                yield from self._local("ipc", Orphaned(pid))
        for session, _, _ in list(self._running.values()):
            if session.dest == req.node and self.node.location_of(session.pid) == req.node:
                # The process died at the destination: nothing here is a dependency any more.
                yield from self._local("memory", Release(session.pid))

    # -- checkpoints -------------------------------------------------------------
    def _checkpoint(
        self, req: Checkpoint
    ) -> Generator[simpy.events.Event, Any, CheckpointImage | str]:
        """Freeze the process, write its pages and state to the file server, resume it."""
        pid, node = req.pid, self.node
        if pid in self.active or pid in self.incoming:
            return f"process {pid} is migrating"
        if node.location_of(pid) != node.node_id:
            return f"process {pid} does not run on node {node.node_id}"
        self.active.add(pid)
        try:
            stopped = yield from self._local("process", Suspend(pid))
            if stopped is None:
                return f"process {pid} exited"
            try:
                image = yield from self._write_checkpoint(pid, req.full)
            except GeneratorExit:  # abandoned: its node crashed, there is nothing to resume
                raise
            except Exception:
                yield from self._local("process", Resume(pid))
                raise
            yield from self._local("process", Resume(pid))
        except RequestFailed as failed:
            return f"checkpoint of process {pid} failed: {failed}"
        finally:
            self.active.discard(pid)
        self.log("checkpoint", pid=pid, bytes=image.bytes, full=req.full)
        return image

    def _write_checkpoint(
        self, pid: int, full: bool
    ) -> Generator[simpy.events.Event, Any, CheckpointImage]:
        node = self.node
        began = float(self.env.now)
        captured: Captured = yield from self._local("process", Capture(pid))
        recorder = Recorder.install(captured.context)
        comm = yield from self._local("ipc", Checkpointed(pid))
        which = PageSet.RESIDENT if full else PageSet.DIRTY
        pages = yield from self._local("memory", Flush(pid, which))
        state = node.profile.execution_state_bytes + comm.wire_bytes()
        since: list[Any] = []  # what the process yields from now on: the recorder's once stored
        image = CheckpointImage(
            pid=pid,
            name=captured.name,
            home=captured.home,
            layout=captured.layout,
            context=attrs.evolve(captured.context),
            cpu_seconds=captured.context.cpu_seconds,
            taken_at=began,
            bytes=int(pages or 0) * node.profile.page_size_bytes + state,
            full=full,
            since=since,
            comm=comm,
        )
        yield node.call(
            node.role_port("file", node.file_server()),
            StoreCheckpoint(image),
            size_bytes=state,
            traffic="flush",
            account=pid,
        )
        recorder.since_checkpoint = since
        return image

"""The Process Manager server: PCBs, lifecycle, and execution state.

One per node. Its private table holds the PCBs of the processes on its node; a process
that exits here is kept in ``finished`` for accounting. It also stands in for the home
node of its processes: location-dependent calls of a process that migrated away come
back here (as Sprite's home node and MOSIX's deputy do).

Its requests are declared in :mod:`rhodos.process_manager.requests`, each with who
sends it and what it replies; the dispatch table below maps them to the handlers.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import simpy

from rhodos.file_manager.requests import CloseAll
from rhodos.ipc_manager.requests import Close, Open
from rhodos.kernel import (
    LOST_EXIT_CODE,
    CheckpointImage,
    ConfigError,
    ExecutionContext,
    Handler,
    HomeService,
    Node,
    ProcessFailed,
    Recorder,
    Reply,
    Request,
    RequestFailed,
    Server,
    StoreCheckpoint,
    Thread,
    ThreadExited,
)
from rhodos.memory_manager.requests import Adopt, Create, Free
from rhodos.process_manager.pcb import PCB
from rhodos.process_manager.requests import (
    Abandon,
    Capture,
    Captured,
    Departed,
    Install,
    MigrateOut,
    ProcessSnapshot,
    Restart,
    Resume,
    Resumed,
    Spawn,
    StateMoved,
    Status,
    Suspend,
    Suspended,
)

__all__ = ["PCBView", "ProcessManager", "ProcessStatistics"]


@attrs.frozen
class ProcessStatistics:
    """What one Process Manager did: every process it holds or saw exit, in pid order."""

    processes: tuple[ProcessSnapshot, ...]
    home_calls_served: int


@attrs.frozen
class PCBView:
    """What one Process Manager holds of a process, for the checkers of :mod:`rhodos.testing`."""

    pid: int
    #: It holds a live PCB (running, frozen or migrating).
    live: bool
    #: It saw the process exit here.
    finished: bool
    #: The node the process left for, if it left from here.
    departed_to: int | None


class ProcessManager(Server):
    """Owns the process state of the processes on its node."""

    role = "process"

    def __init__(self, node: Node) -> None:
        self.pcbs: dict[int, PCB] = {}
        self.finished: dict[int, PCB] = {}
        self.departed: dict[int, int] = {}
        self.home_calls_served = 0
        super().__init__(node)

    def handlers(self) -> dict[type[Request], Handler]:
        return {
            Spawn: self._spawn,
            ThreadExited: self._exited,
            Suspend: self._suspend,
            Resume: self._resume,
            MigrateOut: self._migrate_out,
            Install: self._install,
            Departed: self._departed,
            HomeService: self._home_call,
            Status: self._status,
            Abandon: self._abandon,
            Capture: self._capture,
            Restart: self._restart,
        }

    def statistics(self) -> ProcessStatistics:
        """Every process this node holds or saw exit, in pid order, and the home calls served."""
        pcbs = {**self.finished, **self.pcbs}
        return ProcessStatistics(
            processes=tuple(ProcessSnapshot.of(pcbs[pid]) for pid in sorted(pcbs)),
            home_calls_served=self.home_calls_served,
        )

    def snapshot(self, pid: int) -> PCBView:
        """What this Process Manager holds of ``pid`` (read-only; for :mod:`rhodos.testing`)."""
        return PCBView(
            pid=pid,
            live=pid in self.pcbs,
            finished=pid in self.finished,
            departed_to=self.departed.get(pid),
        )

    # -- lifecycle -----------------------------------------------------------------
    def _spawn(self, req: Spawn) -> Generator[simpy.events.Event, Any, int]:
        pid, name, layout = req.pid, req.name, req.layout
        node = self.node
        yield node.call(node.role_port("memory"), Create(pid, layout))
        yield node.call(node.role_port("ipc"), Open(pid))
        context = ExecutionContext(pid=pid, home=node.node_id, program=req.program)
        pcb = PCB(pid, name, node.node_id, node.node_id, layout, self.env.now, context=context)
        self.pcbs[pid] = pcb
        node.commit_location(pid, home=True)
        Thread(node, context)
        self.log("spawn", pid=pid, name=name, pages=layout.pages)
        if node.detecting:  # crashes are expected: the program's image is its first checkpoint
            recorder = Recorder.install(context)
            image = CheckpointImage(
                pid,
                name,
                node.node_id,
                layout,
                attrs.evolve(context),
                0.0,
                self.env.now,
                0,
                initial=True,
                since=recorder.since_checkpoint,
            )
            node.send(node.role_port("file", node.file_server()), StoreCheckpoint(image))
        return pid

    def _exited(self, req: ThreadExited) -> Generator[simpy.events.Event, Any, None]:
        pid = req.pid
        pcb = self.pcbs.pop(pid)
        pcb.state = "exited" if req.lost is None else "lost"
        pcb.exited_at = self.env.now
        self.finished[pid] = pcb
        yield self.node.call(self.node.role_port("memory"), Free(pid, at_exit=True))
        yield self.node.call(self.node.role_port("ipc"), Close(pid))
        if pcb.context is not None and pcb.context.open_files:
            yield self.node.call(self.node.role_port("files"), CloseAll(pid))
        if req.lost is None:
            self.log("exited", pid=pid)
        else:
            self.log("lost", pid=pid, why=req.lost)
            if (yield from self._restarting(pid, req.lost)):
                return  # the restarted process's exit is the process's
        code = pcb.context.exit_code if pcb.context else 0
        event = self.node.exit_event(pid)
        if not event.triggered:
            event.succeed(code)

    def _freeze(self, pid: int) -> Generator[simpy.events.Event, Any, PCB | None]:
        """Stop ``pid``'s thread; ``None`` when the process is not here or exited meanwhile.

        A running process whose thread is gone has exited: its ``exited`` notice is on
        its way here (one local message), and it must not be reported frozen.
        """
        pcb = self.pcbs.get(pid)
        if pcb is None:
            return None
        thread = self.node.threads.get(pid)
        if thread is None and pcb.state == "running":
            return None
        if thread is not None:
            context = yield thread.freeze()
            if context is None:
                return None
            pcb.context = context
        pcb.state = "frozen"
        return pcb

    def _suspend(self, req: Suspend) -> Generator[simpy.events.Event, Any, Suspended | None]:
        """Freeze the process; reply the instant it stopped and its accounting then
        (``None``: not here, or exited)."""
        pcb = yield from self._freeze(req.pid)
        if pcb is None:
            return None
        self.log("suspend", pid=req.pid)
        return Suspended(float(self.env.now), ProcessSnapshot.of(pcb))

    def _resume(self, req: Resume) -> Generator[simpy.events.Event, Any, bool]:
        pcb = self.pcbs.get(req.pid)
        if pcb is None or pcb.state == "running":
            return False
        yield self.node.kernel_work(self.node.profile.context_switch_s)
        self._start(pcb)
        return True

    def _start(self, pcb: PCB) -> None:
        assert pcb.context is not None
        pcb.state = "running"
        Thread(self.node, pcb.context)
        self.log("resume", pid=pcb.pid)

    # -- migration -----------------------------------------------------------------
    def _migrate_out(
        self, req: MigrateOut
    ) -> Generator[simpy.events.Event, Any, StateMoved | None]:
        """Send the execution state to ``dest``; reply the bytes and when it was installed
        (``None``: the process exited before its state could be taken).

        With a ``bundle`` (the freeze-free bundle of the Memory Manager) the state
        travels with it as ONE one-way message, and the destination reports its resume
        time to ``notify`` instead: no request/reply crosses the network. The reply
        comes once the message has been delivered.
        """
        pid, dest = req.pid, req.dest
        pcb = yield from self._freeze(pid)
        if pcb is None:
            return None  # it exited before its state could be taken
        pcb.state = "migrating"
        yield self.node.kernel_work(self.node.profile.state_extract_s)
        size = self.node.profile.execution_state_bytes
        if req.bundle is not None:
            size += req.bundle.wire_bytes
            sent = self.node.send(
                self.peer(dest),
                Install(pcb, req.start, req.bundle, req.notify),
                size_bytes=size,
                traffic="state",
                account=pid,
            )
            self.log("migrate-out", pid=pid, dest=dest, bytes=size)
            yield sent  # delivered: the source may go on without waiting for any reply
            return StateMoved(size, float("nan"))  # the PCB stays until the destination's Departed
        reply = yield self.node.call(
            self.peer(dest),
            Install(pcb, req.start),
            size_bytes=size,
            traffic="state",
            account=pid,
        )
        installed_at = float(reply.body)
        del self.pcbs[pid]
        self.departed[pid] = dest
        self.log("migrate-out", pid=pid, dest=dest, bytes=size)
        return StateMoved(size, installed_at)

    def _departed(self, req: Departed) -> None:
        pid = req.pid
        if pid in self.pcbs and self.node.location_of(pid) != self.node.node_id:
            del self.pcbs[pid]
            self.departed[pid] = req.dest

    def _install(self, req: Install) -> Generator[simpy.events.Event, Any, float]:
        pcb = req.pcb
        source = pcb.node
        if req.bundle is not None:
            yield self.node.call(self.node.role_port("memory"), Adopt(pcb.pid, req.bundle))
        yield self.node.kernel_work(self.node.profile.state_install_s)
        pcb.node = self.node.node_id
        pcb.migrations += 1
        pcb.state = "frozen"
        self.pcbs[pcb.pid] = pcb
        self.departed.pop(pcb.pid, None)
        self.node.commit_location(pcb.pid)
        self.log("install", pid=pcb.pid)
        if req.start:
            self._start(pcb)
        now = float(self.env.now)
        if req.notify is not None:
            self.node.send(req.notify, Resumed(now), account=pcb.pid)
            self.node.send(self.peer(source), Departed(pcb.pid, self.node.node_id), account=pcb.pid)
        return now

    # -- failures ------------------------------------------------------------------
    def _restarting(self, pid: int, why: str) -> Generator[simpy.events.Event, Any, bool]:
        """Once crashes are expected, a process that cannot go on is reported to the
        recovery manager, which restarts it if it has a checkpoint."""
        node = self.node
        if not node.detecting:
            return False
        try:
            reply = yield node.call(
                node.role_port("recovery", node.file_server()),
                ProcessFailed(pid, node.node_id, why),
                account=pid,
            )
        except (RequestFailed, ConfigError):
            return False
        return bool(reply.body)

    def _abandon(self, req: Abandon) -> Generator[simpy.events.Event, Any, bool]:
        """End a frozen process that cannot go on, as lost, with the reason."""
        pcb = self.pcbs.get(req.pid)
        if pcb is None or self.node.threads.get(req.pid) is not None:
            return False
        if pcb.context is not None:
            pcb.context.exit_code = LOST_EXIT_CODE
        yield from self._exited(ThreadExited(req.pid, req.why))
        return True

    def _capture(self, req: Capture) -> Captured | None:
        """The frozen process's execution state, for a checkpoint."""
        pcb = self.pcbs.get(req.pid)
        if pcb is None or pcb.state != "frozen" or pcb.context is None:
            return None
        return Captured(pcb.pid, pcb.name, pcb.home, pcb.layout, pcb.context)

    def _restart(self, req: Restart) -> Generator[simpy.events.Event, Any, float]:
        """Run a process again from its checkpoint image: a fresh space here, the
        communication state of the checkpoint and the messages logged since, and the
        execution state that runs again what was done since (the recovery manager built
        it)."""
        pid, node = req.pid, self.node
        yield node.call(node.role_port("memory"), Create(pid, req.layout))
        yield node.call(node.role_port("ipc"), Open(pid, req.comm, req.received))
        yield node.kernel_work(node.profile.state_install_s)
        pcb = PCB(pid, req.name, req.home, node.node_id, req.layout, self.env.now)
        pcb.context = req.context
        self.pcbs[pid] = pcb
        self.departed.pop(pid, None)
        self.finished.pop(pid, None)
        node.commit_location(pid)
        self.log("restart", pid=pid)
        self._start(pcb)
        return float(self.env.now)

    # -- home-node services --------------------------------------------------------
    def _home_call(self, req: HomeService) -> Generator[simpy.events.Event, Any, Reply]:
        yield self.node.kernel_work(req.service_s)
        self.home_calls_served += 1
        self.log("home-call", pid=req.pid, kind=req.call)
        traffic = "home" if req.caller != self.node.node_id else "control"
        return Reply(body=req.call, size_bytes=req.size_bytes, traffic=traffic)

    def _status(self, req: Status) -> ProcessSnapshot | int | None:
        """The snapshot, or the node the process left for, or ``None`` if never seen here."""
        pcb = self.pcbs.get(req.pid) or self.finished.get(req.pid)
        if pcb is not None:
            return ProcessSnapshot.of(pcb)
        return self.departed.get(req.pid)

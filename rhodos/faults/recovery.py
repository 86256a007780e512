"""The recovery manager: learns that a node crashed, and restarts its processes.

It runs on the file-server node, next to the checkpoints. Every compute node's kernel
sends it a :class:`~rhodos.faults.requests.Heartbeat` each heartbeat interval. A node
silent for :attr:`~rhodos.kernel.Detection.suspicion_s` is probed; when its kernel does
not answer, or answers from a later incarnation (it crashed and came back meanwhile), the
manager *declares* that incarnation crashed:

1. it tells the Migration Manager of every other node (:class:`~rhodos.kernel.NodeCrashed`,
   a request each), which drop what they held for migrations to or from it;
2. for every process the naming service last saw committed to that incarnation, it
   reads the process's last checkpoint from the file server (or its program's image, kept
   when it was created: it restarts from its start) and restarts it on the node the
   location policy chooses (the Load Manager of a live node is asked,
   :class:`~rhodos.load.requests.Where`), reporting the work lost; a process without a
   checkpoint is reported lost, with the reason;
3. it tells every live node's IPC Manager where each process was restarted, or that it
   was lost (:class:`~rhodos.ipc_manager.requests.Relocated`), so that the messages sent
   to it and not acknowledged are sent there again, or returned to their senders.

It also keeps the **message log**: every message a process takes is logged here first
(:class:`~rhodos.kernel.LogReceive`, one disk write each), and a restart hands the
process the messages it took since its checkpoint, to take again in the same order.

What it must not forget -- which incarnations it declared, the processes it restarted or
reported lost, the work lost -- is its :class:`Journal`, kept on the node's disk, so it
survives a crash of the file server itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import attrs
import simpy

from rhodos.faults.replay import restart, work_lost_s
from rhodos.faults.requests import Heartbeat
from rhodos.ipc_manager.requests import Relocated
from rhodos.kernel import (
    LOST_EXIT_CODE,
    CheckpointImage,
    Detection,
    Handler,
    LogReceive,
    Node,
    NodeCrashed,
    ProcessFailed,
    ReadCheckpoint,
    Request,
    RequestFailed,
    Server,
    StoreCheckpoint,
    UserMessage,
)
from rhodos.load.requests import Where
from rhodos.process_manager.requests import Restart

__all__ = ["Journal", "RecoveryManager"]


@attrs.define(eq=False)
class Journal:
    """What the recovery manager keeps on disk."""

    #: (node, incarnation) declared crashed, in the order they were declared.
    declared: list[tuple[int, int]] = attrs.field(factory=list)
    #: pid -> how many times it was restarted from a checkpoint.
    restarts: dict[int, int] = attrs.field(factory=dict)
    #: CPU-seconds done after the last checkpoint and lost in crashes.
    work_lost_s: float = 0.0
    #: pid -> why it was reported lost.
    lost: dict[int, str] = attrs.field(factory=dict)
    #: When each of :attr:`declared` was declared (simulated seconds).
    declared_at: list[float] = attrs.field(factory=list)
    #: The message log: pid -> number of the receive -> the message it took.
    received: dict[int, dict[int, UserMessage]] = attrs.field(factory=dict)
    #: CPU-seconds restarted processes spent running again what they had done before
    #: their crash (measured as they run it, for the report; not part of the system).
    reexecuted_s: float = 0.0


class RecoveryManager(Server):
    """Failure detector and restarter, on the file-server node."""

    role = "recovery"

    def __init__(
        self,
        node: Node,
        detection: Detection,
        compute_nodes: int,
        *,
        until: float,
        from_start: bool = True,
    ) -> None:
        self.detection = detection
        #: A process with no checkpoint but its program's image restarts from its start.
        self.from_start = from_start
        self.journal: Journal = node.disk.setdefault("recovery", Journal())
        self.compute_nodes = compute_nodes
        self.until = until
        now = float(node.env.now)
        #: node -> (when it was last heard of, its incarnation then).
        self.heard: dict[int, tuple[float, int]] = {
            n: (now, self._last_declared(n) + 1 if self._last_declared(n) >= 0 else 0)
            for n in range(compute_nodes)
        }
        self._suspected: set[int] = set()
        super().__init__(node)
        self.env.process(self._watch())

    def handlers(self) -> dict[type[Request], Handler]:
        return {
            Heartbeat: self._heartbeat,
            ProcessFailed: self._process_failed,
            LogReceive: self._log_receive,
        }

    def _last_declared(self, node: int) -> int:
        incarnations = [inc for n, inc in self.journal.declared if n == node]
        return max(incarnations, default=-1)

    # -- detection -----------------------------------------------------------------
    def _heartbeat(self, req: Heartbeat) -> Generator[simpy.events.Event, Any, None]:
        _, known = self.heard[req.node]
        self.heard[req.node] = (float(self.env.now), max(known, req.incarnation))
        if req.incarnation > known:  # it crashed and came back between two heartbeats
            yield from self._declare(req.node, known)

    def _watch(self) -> Generator[simpy.events.Event, Any, None]:
        interval = self.detection.heartbeat_interval_s
        while not self.node.crashed and self.env.now < self.until:
            yield self.env.timeout(interval)
            for n, (when, incarnation) in self.heard.items():
                silent = self.env.now - when > self.detection.suspicion_s
                if silent and n not in self._suspected and not self._declared(n, incarnation):
                    self._suspected.add(n)
                    self.env.process(self._suspect(n, incarnation))

    def _declared(self, node: int, incarnation: int) -> bool:
        return (node, incarnation) in self.journal.declared

    def _suspect(self, node: int, incarnation: int) -> Generator[simpy.events.Event, Any, None]:
        answer = yield self.node.ask_incarnation(node)
        self._suspected.discard(node)
        if answer == incarnation:  # slow, not dead
            self.heard[node] = (float(self.env.now), incarnation)
            return
        if answer is not None:
            self.heard[node] = (float(self.env.now), answer)
        yield from self._declare(node, incarnation)

    # -- the message log -------------------------------------------------------------
    def _log_receive(self, req: LogReceive) -> Generator[simpy.events.Event, Any, None]:
        """Write the message a process is about to take to the log on disk."""
        yield self.env.timeout(self.node.profile.file_server_latency_s)
        self.journal.received.setdefault(req.pid, {})[req.index] = req.message

    def _logged_since(self, image: CheckpointImage) -> tuple[UserMessage, ...]:
        """The messages ``image``'s process took after its checkpoint, in order (the log
        before the checkpoint is dropped: the checkpoint holds what it stands for)."""
        first = image.comm.receives if image.comm is not None else 0
        log = self.journal.received.get(image.pid, {})
        for index in [i for i in log if i < first]:
            del log[index]
        return tuple(log[i] for i in sorted(log))

    def _reexecuted(self, seconds: float) -> None:
        self.journal.reexecuted_s += seconds

    def _tell_ipc(self, pid: int, node: int | None, why: str = "") -> None:
        """Tell every live node's IPC Manager where ``pid`` now runs (``None``: lost)."""
        for other in range(self.compute_nodes):
            if self._alive(other):
                self.node.send(self.node.role_port("ipc", other), Relocated(pid, node, why))

    # -- recovery ------------------------------------------------------------------
    def _declare(self, node: int, incarnation: int) -> Generator[simpy.events.Event, Any, None]:
        if self._declared(node, incarnation):
            return
        self.journal.declared.append((node, incarnation))
        self.journal.declared_at.append(float(self.env.now))
        self.log("declared-crashed", crashed=node, incarnation=incarnation)
        notices = [
            self.node.call(self.node.role_port("migration", other), NodeCrashed(node, incarnation))
            for other in range(self.compute_nodes)
            if other != node and self._alive(other)
        ]
        for notice in notices:
            with contextlib.suppress(RequestFailed):  # that one crashed too: declared in turn
                yield notice
        for pid in self.node.processes_on(node, incarnation):
            yield from self._recover(pid, node)

    def _alive(self, node: int) -> bool:
        _, incarnation = self.heard[node]
        return not self._declared(node, incarnation)

    def _process_failed(self, req: ProcessFailed) -> Generator[simpy.events.Event, Any, bool]:
        """A process could not go on: restart it from its checkpoint, if it has one."""
        image = yield from self._image(req.pid)
        if image is None:
            self.journal.lost[req.pid] = req.why
            self._tell_ipc(req.pid, None, req.why)
            return False
        return (yield from self._restart(image, avoid=None))

    def _image(self, pid: int) -> Generator[simpy.events.Event, Any, CheckpointImage | None]:
        try:
            reply = yield self.node.call(self.node.role_port("file"), ReadCheckpoint(pid))
        except RequestFailed:
            return None
        image: CheckpointImage | None = reply.body
        if image is not None and image.initial and not self.from_start:
            return None
        return image

    def _recover(self, pid: int, crashed: int) -> Generator[simpy.events.Event, Any, None]:
        image = yield from self._image(pid)
        if image is None:
            why = f"process {pid} was on node {crashed}, which crashed; it had no checkpoint"
            self._lost(pid, why)
            return
        if not (yield from self._restart(image, avoid=crashed)):
            why = f"process {pid} was on node {crashed}, which crashed; no node could restart it"
            self._lost(pid, why)

    def _restart(
        self, image: CheckpointImage, *, avoid: int | None
    ) -> Generator[simpy.events.Event, Any, bool]:
        """Restart ``image``'s process on the node the location policy chooses."""
        pid = image.pid
        lost = work_lost_s(image)
        received = self._logged_since(image)
        context, again = restart(image, self._reexecuted)
        for target in (yield from self._places(image, avoid)):
            request = Restart(
                pid, image.name, image.home, image.layout, context, image.comm, received
            )
            try:
                yield self.node.call(
                    self.node.role_port("process", target),
                    request,
                    size_bytes=image.layout.pages * self.node.profile.page_size_bytes,
                    traffic="pages",
                    account=pid,
                )
            except RequestFailed:
                continue
            self.journal.restarts[pid] = self.journal.restarts.get(pid, 0) + 1
            self.journal.work_lost_s += lost
            self.log("restarted", pid=pid, at_node=target, work_lost=lost)
            # The image now stands for the restarted process (what a restart re-runs).
            self.node.call(self.node.role_port("file"), StoreCheckpoint(again))
            self._tell_ipc(pid, target)
            return True
        return False

    def _places(
        self, image: CheckpointImage, crashed: int | None
    ) -> Generator[simpy.events.Event, Any, list[int]]:
        """Where to try: the location policy's choice, asked of a live node's Load
        Manager (its home's first), then that node itself, then the other live nodes."""
        live = [n for n in range(self.compute_nodes) if n != crashed and self._alive(n)]
        asked = sorted(live, key=lambda n: n != image.home)
        for node in asked:
            try:
                reply = yield self.node.call(
                    self.node.role_port("load", node),
                    Where(self.node.architecture, image.layout.pages),
                )
            except RequestFailed:
                continue
            chosen = int(reply.body)
            return [chosen] + [n for n in asked if n != chosen]
        return asked

    def _lost(self, pid: int, why: str) -> None:
        self.journal.lost[pid] = why
        self.log("process-lost", pid=pid, why=why)
        self._tell_ipc(pid, None, why)
        event = self.node.exit_event(pid)
        if not event.triggered:
            event.succeed(LOST_EXIT_CODE)

"""A node: CPU, memory frames, architecture, up/down state, and the kernel calls made from it.

A node is all that its servers and threads see of the kernel. Beside its hardware it
offers them the few kernel services they need -- messages and calls, ports and the
naming service (where each server listens, where each process lives), the event log
-- by passing them on to the :class:`Kernel` it was built with (the
:class:`~rhodos.kernel.Cluster`); it never hands out the cluster itself.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel.context import ExecutionContext
from rhodos.kernel.cpu import CPU
from rhodos.kernel.failure import Detection
from rhodos.kernel.later import Later, drive
from rhodos.kernel.ledger import TrafficLedger, TrafficTally
from rhodos.kernel.log import EventLog
from rhodos.kernel.message import Failure, Message, Port, Request, RequestFailed
from rhodos.kernel.profile import MachineProfile

__all__ = ["Kernel", "Node", "OutOfMemory", "Pager", "Runnable", "Service"]


class OutOfMemory(ValueError):
    """A node was asked for more page frames than it has free."""


class Pager(Protocol):
    """What the kernel needs of an address space to run a process: the MMU's view.

    The Memory Manager owns the address space and registers it with the kernel; the
    kernel applies a batch of references to it at hardware speed and traps to the
    Memory Manager (a message) at the first page that is not resident.
    """

    def touch(
        self,
        pages: npt.NDArray[np.int64],
        writes: npt.NDArray[np.bool_],
        start: int = 0,
        stack_depth: int | None = None,
    ) -> int:
        """Apply references in order from ``start`` up to the first non-resident page.

        Returns how many were applied (``len(pages) - start`` when every page was
        resident). A written page gets one new version per batch, even when a fault
        split the batch: the kernel resumes it with ``start`` after the fault. Once the
        whole batch is applied the stack pointer stands ``stack_depth`` bytes below the
        stack's end (``None``: where it was).
        """
        ...


class Runnable(Protocol):
    """What a node's thread table holds: a :class:`~rhodos.kernel.Thread` running a process."""

    context: ExecutionContext

    def freeze(self) -> simpy.Event:
        """Stop at the next preemption point; the event's value is the context (None: exited)."""
        ...

    def kill(self) -> None:
        """Stop at once, for ever (the node crashed); the context holds the crash instant."""
        ...


class Kernel(Protocol):
    """The kernel services a node passes on to its servers and threads.

    The :class:`~rhodos.kernel.Cluster` provides them: the simulated clock, message
    transmission, ports and the naming service, the record of where processes live,
    the traffic ledger and the event log. Request/reply is built on them by the node.
    """

    env: simpy.Environment
    log: EventLog
    ledger: TrafficLedger
    location_of: dict[int, int]
    home_of: dict[int, int]
    detection: Detection | None

    def transmit(
        self,
        src_node: int,
        dst: int,
        kind: str,
        body: Any = None,
        *,
        size_bytes: int = 64,
        traffic: str = "control",
        reply_to: int | None = None,
        account: int | None = None,
    ) -> simpy.Event:
        """Send a message from ``src_node`` to port ``dst``; the event fires on delivery."""
        ...

    def probe(self, src_node: int, dst_node: int, *, account: int | None = None) -> simpy.Event:
        """Is ``dst_node`` alive? The event's value is True (its kernel answered) or False."""
        ...

    def ask_incarnation(self, src_node: int, dst_node: int) -> simpy.Event:
        """A probe answered with ``dst_node``'s incarnation (``None``: no answer)."""
        ...

    def incarnation(self, node_id: int) -> int:
        """How many times ``node_id`` was rebooted after a crash."""
        ...

    def port_node(self, port_id: int) -> int | None:
        """The node port ``port_id`` is on (``None``: closed)."""
        ...

    def processes_on(self, node_id: int, incarnation: int) -> list[int]:
        """The live processes last committed to that incarnation of ``node_id``."""
        ...

    def create_port(
        self, node_id: int, owner: str, receiver: Callable[[Message], None] | None = None
    ) -> Port:
        """A new port on ``node_id`` (its messages go to ``receiver`` when given)."""
        ...

    def close_port(self, port_id: int) -> None:
        """Remove a port."""
        ...

    def register_role(self, node_id: int, role: str, port_id: int) -> None:
        """Publish that ``role``'s server on ``node_id`` listens at ``port_id``."""
        ...

    def role_port(self, node_id: int, role: str) -> int:
        """The port of ``role``'s server on ``node_id``."""
        ...

    def commit_location(self, pid: int, node_id: int) -> None:
        """The commit point of a process's creation or migration."""
        ...

    def exit_event(self, pid: int) -> simpy.Event:
        """The event of process ``pid`` ending."""
        ...

    def node_kind(self, node_id: int) -> str:
        """``compute`` or ``file-server``; an unknown node raises a ConfigError naming the ids."""
        ...

    def file_server(self) -> int | None:
        """The node id of the file server, ``None`` when the cluster has none."""
        ...


class Service(Protocol):
    """What the kernel needs of a server it registers (see :class:`~rhodos.kernel.Server`)."""

    def serve(self, request: Request) -> simpy.Event:
        """Handle ``request`` from outside the simulated machines; the value is the reply."""
        ...

    def statistics(self) -> Any:
        """A frozen snapshot of the server's counters (``None`` when it keeps none)."""
        ...


class Node:
    """A workstation (or a file server): hardware plus the kernel's per-node tables."""

    def __init__(
        self,
        kernel: Kernel,
        node_id: int,
        profile: MachineProfile,
        architecture: str,
        *,
        kind: str = "compute",
    ) -> None:
        self._kernel = kernel
        self.env: simpy.Environment = kernel.env
        self.node_id = node_id
        self.profile = profile
        self.architecture = architecture
        self.kind = kind
        self.cpu = CPU(self.env, f"node{node_id}", profile.cpu_speed, log=kernel.log, node=node_id)
        self.frames_total = profile.memory_bytes // profile.page_size_bytes
        self.frames_used = 0
        self.up = True
        #: The node crashed: this incarnation is gone for good (a recovery builds a new
        #: :class:`Node`); whatever its servers and threads still try to do goes nowhere.
        self.crashed = False
        #: How many times the node was rebooted after a crash.
        self.incarnation = 0
        self.threads: dict[int, Runnable] = {}
        #: The node's disk: what its servers keep there outlives a crash.
        self.disk: dict[str, Any] = {}
        #: Called when this incarnation crashes, before its memory is lost: the operator's
        #: console uses it to learn that the node it was talking to went away.
        self.on_crash: list[Callable[[], None]] = []
        self._servers: dict[str, Service] = {}
        self._pagers: dict[int, Pager] = {}
        #: The instant the owner last touched the keyboard or mouse (idle workstations).
        self.input_at = float("-inf")
        #: The processes running here as guests of this workstation (their owner works
        #: elsewhere), as the Load Manager marks them, and the CPU seconds they got here:
        #: the cycles harvested from this workstation.
        self.foreign: set[int] = set()
        self.foreign_cpu_s = 0.0

    def __repr__(self) -> str:
        return f"Node({self.node_id}, {self.architecture}, {'up' if self.up else 'down'})"

    def crash(self) -> None:
        """This incarnation ends (called by :meth:`~rhodos.kernel.Cluster.crash`): the CPU
        stops, every thread is killed where it stands, and every kernel call made from
        here from now on -- by the servers' and threads' unfinished work -- never
        completes."""
        for hook in self.on_crash:
            hook()
        self.up = False
        self.crashed = True
        self.cpu.set_up(False)
        for thread in list(self.threads.values()):
            thread.kill()
        self.threads.clear()
        self._pagers.clear()

    @property
    def detection(self) -> Detection | None:
        """How crashes are detected (``None``: none is expected)."""
        return self._kernel.detection

    @property
    def detecting(self) -> bool:
        """Whether crashes are expected (:mod:`rhodos.kernel.failure` detection is on)."""
        return self._kernel.detection is not None

    def _gone(self) -> simpy.Event:
        """What a kernel call of a crashed node returns: an event that never fires."""
        return self.env.event()

    # -- memory frames -------------------------------------------------------------
    @property
    def frames_free(self) -> int:
        """Page frames not allocated to any address space."""
        return self.frames_total - self.frames_used

    def allocate_frames(self, count: int) -> None:
        """Take ``count`` frames; raises :class:`OutOfMemory` when they are not free."""
        if count > self.frames_free:
            raise OutOfMemory(
                f"node {self.node_id} has {self.frames_free} free frames, {count} requested"
            )
        self.frames_used += count

    def free_frames(self, count: int) -> None:
        """Give ``count`` frames back."""
        self.frames_used = max(0, self.frames_used - count)

    # -- the owner and the guests --------------------------------------------------
    def owner_input(self) -> None:
        """The owner typed or moved the mouse now."""
        self.input_at = self.env.now

    def charge(self, pid: int, seconds: float) -> None:
        """``pid`` got ``seconds`` of this CPU (counted as harvested if it is a guest)."""
        if pid in self.foreign:
            self.foreign_cpu_s += seconds

    # -- MMU -----------------------------------------------------------------------
    def attach_pager(self, pid: int, pager: Pager) -> None:
        """The Memory Manager makes ``pid``'s address space usable on this node."""
        self._pagers[pid] = pager

    def detach_pager(self, pid: int) -> None:
        """``pid``'s address space is no longer mapped here."""
        self._pagers.pop(pid, None)

    def pager(self, pid: int) -> Pager:
        """The address space of ``pid`` as mapped on this node."""
        return self._pagers[pid]

    # -- servers -------------------------------------------------------------------
    def register_server(self, role: str, port_id: int, server: Service) -> None:
        """Publish a server's port under its role in the naming service."""
        self._servers[role] = server
        self._kernel.register_role(self.node_id, role, port_id)

    def statistics(self, role: str) -> Any:
        """The frozen statistics of this node's ``role`` server (``None``: it runs none)."""
        server = self._servers.get(role)
        return server.statistics() if server is not None else None

    def submit(self, role: str, request: Request) -> simpy.Event:
        """Hand ``request`` to this node's ``role`` server from outside the simulated machines.

        The operator's console (:func:`rhodos.system.migrate`) is not part of the
        simulated system: its request reaches the server's dispatch table at no
        simulated cost, and the event's value is the handler's reply.
        """
        return self._servers[role].serve(request)

    def debug_server(self, role: str) -> Any:
        """The server object itself, for the checkers of :mod:`rhodos.testing` only.

        Servers talk through messages and the rest of the system observes them through
        :meth:`statistics`; only the invariant checkers read a server's state, through
        its read-only ``snapshot`` API (``tests/test_layering.py`` enforces both).
        """
        return self._servers[role]

    # -- naming service ------------------------------------------------------------
    def create_port(self, owner: str, receiver: Callable[[Message], None] | None = None) -> Port:
        """A new kernel port on this node; its messages go to ``receiver`` when given (a
        server's dispatch), else wait in its mailbox."""
        if self.crashed:  # nobody can send to it: it is in no naming service
            return Port(0, self.node_id, owner, simpy.Store(self.env), receiver)
        return self._kernel.create_port(self.node_id, owner, receiver)

    def close_port(self, port_id: int) -> None:
        """Remove a port; later messages to it are dropped (and logged)."""
        if not self.crashed:
            self._kernel.close_port(port_id)

    def role_port(self, role: str, node_id: int | None = None) -> int:
        """The port of the server with ``role`` on this node (or on ``node_id``)."""
        return self._kernel.role_port(self.node_id if node_id is None else node_id, role)

    def node_kind(self, node_id: int) -> str:
        """What node ``node_id`` is (``compute`` or ``file-server``); a ConfigError if none."""
        return self._kernel.node_kind(node_id)

    def file_server(self) -> int:
        """The node id of the file server; a clear error when the cluster has none."""
        node_id = self._kernel.file_server()
        if node_id is None:
            raise RuntimeError("this cluster has no file server (ClusterConfig.file_servers=0)")
        return node_id

    def location_of(self, pid: int) -> int | None:
        """The node process ``pid`` lives on (its last commit), ``None`` before it exists."""
        return self._kernel.location_of.get(pid)

    def processes_on(self, node_id: int, incarnation: int) -> list[int]:
        """The processes the naming service last saw committed to that incarnation of
        ``node_id`` and that have not ended."""
        return self._kernel.processes_on(node_id, incarnation)

    def ask_incarnation(self, node_id: int) -> simpy.Event:
        """A probe of ``node_id`` answered with its incarnation (``None``: no answer)."""
        if self.crashed:
            return self._gone()
        return self._kernel.ask_incarnation(self.node_id, node_id)

    def home_of(self, pid: int) -> int | None:
        """The node process ``pid`` was created on."""
        return self._kernel.home_of.get(pid)

    def commit_location(self, pid: int, *, home: bool = False) -> None:
        """Commit that ``pid`` lives on this node from now on (``home``: it was created here)."""
        if self.crashed:
            return
        if home:
            self._kernel.home_of[pid] = self.node_id
        self._kernel.commit_location(pid, self.node_id)

    def exit_event(self, pid: int) -> simpy.Event:
        """The event of process ``pid`` ending (wherever it runs); its value is the exit code."""
        return self._kernel.exit_event(pid)

    # -- accounting and log --------------------------------------------------------
    def traffic(self, account: int | None) -> TrafficTally:
        """The network bytes and messages booked to ``account`` so far."""
        return self._kernel.ledger.tally(account)

    def book_message_freeze(self, pid: int, seconds: float) -> None:
        """Account a message freeze of ``pid``, ``seconds`` long (no simulated time)."""
        self._kernel.ledger.book_message_freeze(pid, seconds)

    def book_message_delay(self, pid: int, seconds: float) -> None:
        """Account a message to ``pid`` that a migration delayed by ``seconds`` (no
        simulated time)."""
        self._kernel.ledger.book_message_delay(pid, seconds)

    def log(self, component: str, event: str, **fields: Any) -> None:
        """Record ``event`` of ``component`` on this node in the event log."""
        self._kernel.log.record(self.node_id, component, event, **fields)

    # -- kernel calls --------------------------------------------------------------
    def kernel_work(self, seconds: float) -> simpy.Event:
        """Kernel CPU work on this node (pre-empts its processes)."""
        if self.crashed:
            return self._gone()
        return self.cpu.kernel_work(seconds)

    def send(
        self,
        dst: int,
        request: Request,
        *,
        size_bytes: int = 64,
        traffic: str = "control",
        account: int | None = None,
        reply_to: int | None = None,
    ) -> simpy.Event:
        """Send ``request`` from this node to port ``dst`` (``reply_to``: the port the answer
        goes to); the event fires on delivery."""
        if self.crashed:
            return self._gone()
        return self._kernel.transmit(
            self.node_id,
            dst,
            request.kind,
            request,
            size_bytes=size_bytes,
            traffic=traffic,
            reply_to=reply_to,
            account=account,
        )

    def call(
        self,
        dst: int,
        request: Request,
        *,
        size_bytes: int = 64,
        traffic: str = "control",
        account: int | None = None,
    ) -> simpy.Event:
        """Request/reply: the event's value is the reply :class:`Message`; it fails with
        :class:`RequestFailed` when the server answered with a :class:`Failure`, and, once
        failures are detected (:mod:`rhodos.kernel.failure`), when the node it went to
        crashed before it answered.

        The answer comes to a port made for this call (its id pairs the reply with the
        request in the log) that hands it straight to the event: no mailbox, no process.
        A call to another node while failures are detected is watched by
        :meth:`await_from`.
        """
        if self.crashed:
            return self._gone()
        target = self._kernel.port_node(dst)
        watched = self._kernel.detection is not None and target not in (None, self.node_id)
        answered = Later(self.env)  # at the instant's end, as the kernel work that brings it

        def receive(reply: Message) -> None:
            self.close_port(port.port_id)
            if isinstance(reply.body, Failure) and not watched:
                answered.fail_in(0.0, RequestFailed(reply.body))
            else:
                answered.succeed_in(0.0, reply)

        port = self.create_port("reply", receive)
        self.send(
            dst,
            request,
            size_bytes=size_bytes,
            traffic=traffic,
            account=account,
            reply_to=port.port_id,
        )
        if not watched:
            return answered
        assert target is not None
        result = self.env.event()

        def ended(ok: bool, value: Any) -> None:
            if not ok:  # the node crashed: a late answer is dropped
                self.close_port(port.port_id)
                result.fail(value)
            elif isinstance(value.body, Failure):
                result.fail(RequestFailed(value.body))
            else:
                result.succeed(value)

        drive(self.await_from(target, answered, request.kind), ended)
        return result

    def await_from(
        self, node_id: int, event: simpy.Event, what: str
    ) -> Generator[simpy.events.Event, Any, Any]:
        """Wait for ``event``, which node ``node_id`` brings about, as long as it lives.

        Each time :attr:`Detection.request_timeout_s` (then twice as long) passes first,
        the node's kernel is asked which incarnation it is in; no answer, or another
        incarnation than when the wait began, raises :class:`RequestFailed` naming it.
        Without detection this is a plain wait.
        """
        detection = self._kernel.detection
        if detection is None:
            return (yield event)
        incarnation = self._kernel.incarnation(node_id)
        wait = detection.request_timeout_s
        while True:
            yield event | self.env.timeout(wait)
            if event.triggered:
                return event.value
            answer = yield self._kernel.ask_incarnation(self.node_id, node_id)
            if event.triggered:
                return event.value
            if answer != incarnation:
                how = "does not answer" if answer is None else "was rebooted"
                self.log("kernel", "peer-crashed", peer=node_id, waiting_for=what)
                raise RequestFailed(Failure(what, f"node {node_id} crashed ({how})", node_id))
            wait *= 2

    def probe(self, node_id: int, *, account: int | None = None) -> simpy.Event:
        """Is node ``node_id`` alive? The event's value is ``True`` when its kernel answered,
        ``False`` when it did not within a few network round trips (it is down). Its kernel
        answers at once even when busy: a slow node is not a dead one."""
        if self.crashed:
            return self._gone()
        return self._kernel.probe(self.node_id, node_id, account=account)

    def reply(
        self, request: Message, body: Any = None, *, size_bytes: int = 64, traffic: str = "control"
    ) -> simpy.Event:
        """Answer ``request`` with ``body`` (booked to the request's account)."""
        assert request.reply_to is not None
        if self.crashed:
            return self._gone()
        return self._kernel.transmit(
            self.node_id,
            request.reply_to,
            "reply",
            body,
            size_bytes=size_bytes,
            traffic=traffic,
            account=request.account,
        )

"""The Migration Manager's negotiation: may the process come, and calling it off.

The source checks what it can at once, asks its own servers about the process, then
asks the destination (:class:`~rhodos.migration_manager.requests.Negotiate`), which
refuses -- another architecture, not enough memory -- or accepts: it counts the process
as incoming and has its IPC Manager queue what arrives for it.

How long the source waits is derived from the profile: a few times what the exchange
costs on an idle machine (the messages both ways, their kernel work at both ends, the
destination's local call). When that passes without an answer the source does not call
the destination down: it asks the destination's kernel whether it is alive
(:meth:`~rhodos.kernel.Node.probe`, answered even while that kernel is busy). A node
that answers is slow, not down, and the source waits twice as long again; only a node
that does not answer is down. A negotiation given up is called off at both ends: the
destination is told (:class:`~rhodos.migration_manager.requests.CallOff`) at once and
again if its acceptance comes later, drops its expectation and passes on what it queued.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator
from typing import Any, cast

import simpy

from rhodos.ipc_manager.requests import Expect, StopExpecting
from rhodos.kernel import ConfigError, Message, Node, Request, RequestFailed, Server
from rhodos.memory_manager.requests import Describe, SpaceInfo
from rhodos.migration_manager.requests import CallOff, Migrated, Negotiate
from rhodos.migration_manager.session import Session
from rhodos.process_manager.requests import Status

__all__ = ["NEGOTIATE_PATIENCE", "Negotiation"]

#: How many times its idle-machine cost the source waits for the destination's answer
#: before it asks the destination's kernel whether it is alive.
NEGOTIATE_PATIENCE = 4.0


class Negotiation(Server):
    """The negotiation of a migration, at the source and at the destination."""

    role = "migration"

    def __init__(self, node: Node) -> None:
        #: Processes this node is migrating away (from the request to the residual end).
        self.active: set[int] = set()
        #: Processes migrated here whose source has not yet reported the residual end:
        #: they are still migrating, and may not leave again until it does.
        self.incoming: set[int] = set()
        #: pid -> the negotiation accepted for it (while it is incoming).
        self._accepted: dict[int, tuple[int, int]] = {}
        #: Negotiations their source called off (whether handled here yet or not).
        self._called_off: set[tuple[int, int]] = set()
        self._tickets = itertools.count(1)
        super().__init__(node)

    # -- the source's side ---------------------------------------------------------
    def _negotiate(self, session: Session) -> Generator[simpy.events.Event, Any, str | None]:
        """Check the request at the source, then ask the destination; a reason, or None.

        From its first wait on, the request holds the process in :attr:`active`, so that
        a second request meanwhile is refused; a refusal lets go of it.
        """
        pid = session.pid
        refusal = self._check_request(session)
        if refusal is not None:
            return refusal
        self.active.add(pid)
        refusal = yield from self._ask_servers(session)
        if refusal is not None:
            self.active.discard(pid)
        return refusal

    def _check_request(self, session: Session) -> str | None:
        """What the source can tell at once, without asking any server."""
        pid, dest = session.pid, session.dest
        if dest == self.node.node_id:
            return f"destination node {dest} is the node process {pid} already runs on"
        try:
            kind = self.node.node_kind(dest)
        except ConfigError as error:
            return str(error)
        if kind != "compute":
            return f"node {dest} is a {kind}, not a compute node"
        if pid in self.active:
            return f"process {pid} is already migrating"
        if pid in self.incoming:
            return (
                f"process {pid} is already migrating: its migration to node "
                f"{self.node.node_id} is not complete (the node it left still holds "
                "something it needs)"
            )
        return None

    def _ask_servers(self, session: Session) -> Generator[simpy.events.Event, Any, str | None]:
        """Ask the source's servers about the process, then the destination."""
        pid = session.pid
        snapshot = yield from self._ask_local("process", Status(pid))
        if snapshot is None or isinstance(snapshot, int) or snapshot.state in ("exited", "lost"):
            return f"no process {pid} is running on node {self.node.node_id}"
        info: SpaceInfo | None = yield from self._ask_local("memory", Describe(pid))
        if info is None:
            return f"no process {pid} is running on node {self.node.node_id} (it exited)"
        session.remote_before = info.remote
        return (yield from self._ask_destination(session, info.pages))

    def _ask_destination(
        self, session: Session, pages: int
    ) -> Generator[simpy.events.Event, Any, str | None]:
        """Negotiate with the destination, waiting as long as it is alive."""
        pid, dest = session.pid, session.dest
        session.ticket = (self.node.node_id, next(self._tickets))
        call = self.node.call(
            self.peer(dest),
            Negotiate(pid, self.node.architecture, pages, self.node.node_id, session.ticket),
            account=pid,
        )
        wait = self.negotiation_s()
        try:
            while True:
                yield call | self.env.timeout(wait)
                if call.triggered:
                    break
                alive = yield self.node.probe(dest, account=pid)
                if call.triggered:
                    break
                if not alive:
                    self.log("negotiation-given-up", pid=pid, dest=dest, after=wait)
                    self.call_off(session)
                    call.callbacks.append(lambda event: self._late_answer(event, session))
                    return f"destination node {dest} does not answer (down)"
                wait *= 2
        except RequestFailed as failed:
            return f"destination node {dest} could not negotiate: {failed}"
        reason: str | None = cast(Message, call.value).body
        return reason

    def negotiation_s(self) -> float:
        """How long the source waits for the destination's answer before it checks, with a
        kernel probe, that the destination is alive: :data:`NEGOTIATE_PATIENCE` times
        what the negotiation costs on an idle machine."""
        profile = self.node.profile
        one_way = (
            profile.network_latency_s
            + profile.wire_bytes(64) / profile.bandwidth_bytes_per_s
            + 2 * profile.message_cpu_s(64)
        )
        local_call = 2 * profile.local_ipc_s  # the destination's Expect, there and back
        return NEGOTIATE_PATIENCE * (2 * one_way + local_call)

    def call_off(self, session: Session) -> None:
        """Tell the destination that this migration of the process will not happen."""
        if session.ticket is None:
            return
        self.node.send(
            self.peer(session.dest),
            CallOff(session.pid, session.ticket, self.node.node_id),
            account=session.pid,
        )

    def _late_answer(self, event: simpy.events.Event, session: Session) -> None:
        """The destination accepted after the source gave up: call it off (again)."""
        if not event.ok:
            event.defused = True  # it failed there: nothing was accepted
        elif cast(Message, event.value).body is None:
            self.call_off(session)

    # -- the destination's side ----------------------------------------------------
    def _negotiate_incoming(self, req: Negotiate) -> Generator[simpy.events.Event, Any, str | None]:
        """The destination's side: accept (``None``) or say why not."""
        pid, architecture, pages = req.pid, req.architecture, req.pages
        node = self.node
        if req.ticket in self._called_off:
            return f"the migration of process {pid} was called off by node {req.source}"
        if architecture != node.architecture:
            return (
                f"node {node.node_id} is {node.architecture}; process {pid} was built "
                f"for {architecture}"
            )
        if node.frames_free < pages:
            return (
                f"not enough memory on node {node.node_id}: {node.frames_free} free frames, "
                f"{pages} needed"
            )
        yield node.call(node.role_port("ipc"), Expect(pid))
        if req.ticket in self._called_off:  # called off while the IPC Manager prepared
            yield node.call(node.role_port("ipc"), StopExpecting(pid, req.source))
            return f"the migration of process {pid} was called off by node {req.source}"
        self.incoming.add(pid)
        self._accepted[pid] = req.ticket
        self.log("accept", pid=pid)
        return None

    def _call_off(self, req: CallOff) -> Generator[simpy.events.Event, Any, None]:
        """The source called a negotiation off: forget it, whether handled yet or not."""
        self._called_off.add(req.ticket)
        if self._accepted.get(req.pid) != req.ticket:
            return
        del self._accepted[req.pid]
        self.incoming.discard(req.pid)
        self.log("called-off", pid=req.pid, source=req.ticket[0])
        yield self.node.call(self.node.role_port("ipc"), StopExpecting(req.pid, req.at))

    def _migrated(self, req: Migrated) -> None:
        """The source of an incoming migration holds nothing of the process any more."""
        self._accepted.pop(req.pid, None)
        if req.pid in self.incoming:
            self.incoming.discard(req.pid)
            self.log("let-go", pid=req.pid)

    def _ask_local(self, role: str, request: Request) -> Generator[Any, Any, Any]:
        reply = yield self.node.call(self.node.role_port(role), request)
        return reply.body

    def handlers(self) -> dict[type[Request], Any]:
        return {
            Negotiate: self._negotiate_incoming,
            CallOff: self._call_off,
            Migrated: self._migrated,
        }

"""The Migration Manager server: negotiate, detach, transfer, redirect, resume, clean up.

One per node. A :class:`~rhodos.migration_manager.requests.Migrate` request goes to the
Migration Manager of the node where the process runs (:func:`rhodos.system.migrate`
sends it). It runs the classic steps (Milojicic et al.'s survey) with the strategy's version of
each, and returns a :class:`MigrationRecord`. It moves nothing itself: every transfer
is a request to the server that owns the resource (see :class:`Session`).

The destination may refuse -- node down, another architecture, not enough memory --
and so may the source -- no such process here, already migrating, the destination is
the source: a refusal is a record whose ``refused`` names the reason, not an exception.
A process is migrating from the request until its source holds nothing it needs (the
residual end), so a new request is refused until then -- on the source, and on the
destination, which the source tells (``migrated``) when it may let the process go again.

The record is complete when the residual dependency has ended *and* the process has
exited, so that remote faults after the resume are all counted.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, cast

import attrs
import simpy

from rhodos.ipc_manager.requests import Expect
from rhodos.kernel import ConfigError, Handler, Message, Node, Request, Server, TrafficTally
from rhodos.memory_manager.requests import Describe, SpaceInfo
from rhodos.migration_manager.record import MigrationRecord
from rhodos.migration_manager.requests import Migrate, Migrated, Negotiate
from rhodos.migration_manager.session import ProcessExited, Session
from rhodos.migration_manager.strategy import Strategy
from rhodos.process_manager.requests import ProcessSnapshot, Status

__all__ = ["MigrationManager", "MigrationView"]

#: How long the source waits for the destination's answer before calling it down.
NEGOTIATE_TIMEOUT_S = 1.0


@attrs.frozen
class MigrationView:
    """What one Migration Manager is doing, for the checkers of :mod:`rhodos.testing`."""

    #: Processes it is migrating away (from the request to the residual end).
    active: frozenset[int]
    #: Processes migrated here whose source still holds something they need.
    incoming: frozenset[int]


class MigrationManager(Server):
    """Moves processes away from its node by asking the other servers to transfer them."""

    role = "migration"

    def __init__(self, node: Node) -> None:
        #: Processes this node is migrating away (from the request to the residual end).
        self.active: set[int] = set()
        #: Processes migrated here whose source has not yet reported the residual end:
        #: they are still migrating, and may not leave again until it does.
        self.incoming: set[int] = set()
        self.records: list[MigrationRecord] = []
        super().__init__(node)

    def handlers(self) -> dict[type[Request], Handler]:
        return {
            Migrate: self._migrate,
            Negotiate: self._negotiate_incoming,
            Migrated: self._migrated,
        }

    def snapshot(self) -> MigrationView:
        """The migrations under way here (read-only; for :mod:`rhodos.testing`)."""
        return MigrationView(active=frozenset(self.active), incoming=frozenset(self.incoming))

    # -- the protocol --------------------------------------------------------------
    def _migrate(self, req: Migrate) -> Generator[simpy.events.Event, Any, MigrationRecord]:
        """Migrate ``pid`` (on this node) to ``dest``; reply the record once it is complete.

        Everything that depends on the cluster's state is a refusal in the record.
        """
        pid, dest, strategy = req.pid, req.dest, req.strategy
        session = Session(self.node, pid, dest)
        session.mark("requested")
        before = self.node.traffic(pid)
        refusal = yield from self._negotiate(session)
        if refusal is not None:
            return self._finish(session, strategy, before, refused=refusal)
        session.mark("accepted")
        self.log("accepted", pid=pid, dest=dest, strategy=strategy.name)
        try:
            try:
                yield from strategy.run(session)
            except ProcessExited as gone:
                # It exited before it could be frozen: nothing to move; undo what the
                # destination received, and the migration did not happen.
                yield from session.abort()
                return self._finish(session, strategy, before, refused=str(gone))
            if session.time_of("resumed") is None:
                raise RuntimeError(f"strategy {strategy.name!r} finished without resuming")
            yield from strategy.cleanup(session)
            yield self.env.all_of(session.background)  # the strategy's parallel steps
            if session.time_of("residual-end") is None:
                raise RuntimeError(
                    f"strategy {strategy.name!r} did not end its residual dependency"
                )
        finally:
            self.active.discard(pid)
            # The destination may let the process migrate again: nothing is left here.
            self.node.send(self.peer(dest), Migrated(pid), account=pid)
        yield self.node.exit_event(pid)
        final = yield from self._final_status(pid)
        return self._finish(session, strategy, before, baseline=session.baseline, final=final)

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
        pid, dest = session.pid, session.dest
        snapshot = yield from self._ask_local("process", Status(pid))
        if snapshot is None or isinstance(snapshot, int) or snapshot.state == "exited":
            return f"no process {pid} is running on node {self.node.node_id}"
        info: SpaceInfo | None = yield from self._ask_local("memory", Describe(pid))
        if info is None:
            return f"no process {pid} is running on node {self.node.node_id} (it exited)"
        call = self.node.call(
            self.peer(dest), Negotiate(pid, self.node.architecture, info.pages), account=pid
        )
        answer = yield call | self.env.timeout(NEGOTIATE_TIMEOUT_S)
        if call not in answer:
            return f"destination node {dest} did not answer within {NEGOTIATE_TIMEOUT_S} s (down)"
        reply = cast(Message, call.value)
        reason: str | None = reply.body
        return reason

    def _negotiate_incoming(self, req: Negotiate) -> Generator[simpy.events.Event, Any, str | None]:
        """The destination's side: accept (``None``) or say why not."""
        pid, architecture, pages = req.pid, req.architecture, req.pages
        node = self.node
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
        self.incoming.add(pid)
        self.log("accept", pid=pid)
        return None

    def _migrated(self, req: Migrated) -> None:
        """The source of an incoming migration holds nothing of the process any more."""
        self.incoming.discard(req.pid)

    def _ask_local(self, role: str, request: Request) -> Generator[Any, Any, Any]:
        reply = yield self.node.call(self.node.role_port(role), request)
        return reply.body

    def _final_status(self, pid: int) -> Generator[Any, Any, Any]:
        """The process's accounting from the Process Manager of the node it lives on."""
        where = self.node.location_of(pid)
        reply = yield self.node.call(
            self.node.role_port("process", where), Status(pid), account=pid
        )
        return reply.body

    # -- the record ----------------------------------------------------------------
    def _finish(
        self,
        session: Session,
        strategy: Strategy,
        before: TrafficTally,
        *,
        refused: str | None = None,
        baseline: ProcessSnapshot | None = None,
        final: ProcessSnapshot | None = None,
    ) -> MigrationRecord:
        traffic = self.node.traffic(session.pid) - before
        nan = float("nan")

        def at(phase: str) -> float:
            value = session.time_of(phase)
            return nan if value is None else value

        def delta(field: str) -> Any:
            if baseline is None or final is None:
                return 0
            return getattr(final, field) - getattr(baseline, field)

        record = MigrationRecord(
            strategy=strategy.name,
            pid=session.pid,
            source=session.source,
            destination=session.dest,
            params=strategy.params(),
            refused=refused,
            phases=tuple(session.phases),
            requested_at=at("requested"),
            accepted_at=at("accepted"),
            frozen_at=at("frozen"),
            resumed_at=at("resumed"),
            residual_end_at=at("residual-end"),
            message_freeze_s=session.message_freeze_s,
            messages_held=session.messages_held,
            bytes_by_kind=dict(traffic.bytes_by_kind),
            messages_by_kind=dict(traffic.messages_by_kind),
            state_bytes=self.node.profile.execution_state_bytes if refused is None else 0,
            remote_faults=delta("remote_faults"),
            stall_s=delta("fault_stall_s"),
            home_calls=delta("home_calls"),
            home_call_s=delta("home_call_s"),
            home_bytes=traffic.bytes_by_kind.get("home", 0),
            rounds=tuple(session.rounds),
        )
        self.records.append(record)
        self.log("record", pid=session.pid, refused=refused)
        return record

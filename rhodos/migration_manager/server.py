"""The Migration Manager server: negotiate, detach, transfer, redirect, resume, clean up.

One per node. A :class:`~rhodos.migration_manager.requests.Migrate` request goes to the
Migration Manager of the node where the process runs (:func:`rhodos.system.migrate`
sends it). It runs the classic steps (Milojicic et al.'s survey) with the strategy's version of
each, and returns a :class:`MigrationRecord`. It moves nothing itself: every transfer
is a request to the server that owns the resource (see :class:`Session`).

The destination may refuse -- node down, another architecture, not enough memory --
and so may the source -- no such process here, already migrating, the destination is
the source: a refusal is a record whose ``refused`` names the reason, not an exception
(the negotiation is in :mod:`~rhodos.migration_manager.negotiation`). A server that
meets a state in which it cannot do what the migration asks answers with a failure;
the migration then ends with a record whose ``failed`` names it, and the run goes on.
A process is migrating from the request until its source holds nothing it needs (the
residual end), so a new request is refused until then -- on the source, and on the
destination, which the source tells (``migrated``) when it may let the process go again.

The record is complete when the residual dependency has ended *and* the process has
exited, so that remote faults after the resume are all counted.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import attrs
import simpy

from rhodos.kernel import Handler, Node, NodeCrashed, Request, RequestFailed, TrafficTally
from rhodos.migration_manager.failover import Failover
from rhodos.migration_manager.record import MigrationRecord
from rhodos.migration_manager.requests import Checkpoint, Migrate, Migrated
from rhodos.migration_manager.session import MigrationFailed, ProcessExited, Session
from rhodos.migration_manager.strategy import Strategy
from rhodos.process_manager.requests import ProcessSnapshot, Status

__all__ = ["MigrationManager", "MigrationView"]


@attrs.frozen
class MigrationView:
    """What one Migration Manager is doing, for the checkers of :mod:`rhodos.testing`."""

    #: Processes it is migrating away (from the request to the residual end).
    active: frozenset[int]
    #: Processes migrated here whose source still holds something they need.
    incoming: frozenset[int]


class MigrationManager(Failover):
    """Moves processes away from its node by asking the other servers to transfer them."""

    def __init__(self, node: Node) -> None:
        self.records: list[MigrationRecord] = []
        super().__init__(node)

    def handlers(self) -> dict[type[Request], Handler]:
        return {
            Migrate: self._migrate,
            Checkpoint: self._checkpoint,
            NodeCrashed: self._node_crashed,
            **super().handlers(),
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
        self._running[id(req)] = (session, strategy, before)
        try:
            refusal = yield from self._negotiate(session)
            if refusal is not None:
                return self._finish(session, strategy, before, refused=refusal)
            session.mark("accepted")
            self.log("accepted", pid=pid, dest=dest, strategy=strategy.name)
            return (yield from self._run(req, session, before))
        finally:
            self._running.pop(id(req), None)

    def _run(
        self, req: Migrate, session: Session, before: TrafficTally
    ) -> Generator[simpy.events.Event, Any, MigrationRecord]:
        """The accepted migration, from the strategy's first step to the record."""
        pid, dest, strategy = req.pid, req.dest, req.strategy
        try:
            try:
                yield from strategy.run(session)
            except ProcessExited as gone:
                # It exited before it could be frozen: nothing to move; undo what the
                # destination received, and the migration did not happen.
                yield from session.abort()
                self.call_off(session)
                return self._finish(session, strategy, before, refused=str(gone))
            if session.time_of("resumed") is None:
                raise MigrationFailed(f"strategy {strategy.name!r} finished without resuming")
            yield from strategy.cleanup(session)
            yield self.env.all_of(session.background)  # the strategy's parallel steps
            session.raise_background_failure()
            if session.time_of("residual-end") is None:
                raise MigrationFailed(
                    f"strategy {strategy.name!r} did not end its residual dependency"
                )
        except MigrationFailed as error:
            # A server met a state in which it could not do what was asked: the migration
            # ends here, with the reason in its record. (A strategy's own bug is not
            # caught: it stops the run, loudly.)
            self.log("failed", pid=pid, dest=dest, reason=str(error))
            reason, outcome = str(error), None
            if session.time_of("resumed") is None:
                if error.crashed is not None:
                    outcome, reason = yield from self._roll_back(session, error)
                self.call_off(session)  # the destination expects it no longer
            elif error.crashed is not None:
                outcome, reason = yield from self._residual_crash(session, error)
            return self._finish(session, strategy, before, failed=reason, outcome=outcome)
        finally:
            self.active.discard(pid)
            # The destination may let the process migrate again: nothing is left here.
            self.node.send(self.peer(dest), Migrated(pid), account=pid)
        yield self.node.exit_event(pid)
        final = yield from self._final_status(pid)
        return self._finish(session, strategy, before, baseline=session.baseline, final=final)

    def _final_status(self, pid: int) -> Generator[Any, Any, Any]:
        """The process's accounting from the Process Manager of the node it lives on
        (``None`` when that node crashed: the accounting was lost with it).

        The request is the record's bookkeeping, after the process has exited: it is
        booked to no process, so that it is not counted as the migration's traffic.
        """
        where = self.node.location_of(pid)
        try:
            reply = yield self.node.call(self.node.role_port("process", where), Status(pid))
        except RequestFailed:
            return None
        body = reply.body
        return body if isinstance(body, ProcessSnapshot) else None

    def _residual_crash(
        self, session: Session, error: MigrationFailed
    ) -> Generator[Any, Any, tuple[str, str]]:
        """A crash during the residual dependency. The destination's: the process died
        there, and the source drops what it still holds. Another node's (the file server
        during a flush): the process runs on, and the source serves its pages until it
        holds none (the dependency the flush was to end lasts)."""
        crashed = f"node {error.crashed} crashed during the residual dependency ({error})"
        try:
            if error.crashed == session.dest:
                yield from session.free_source()
                return "residual-lost", f"{crashed}; the source dropped what it held"
            yield from session.source_released()
        except MigrationFailed:
            pass
        return "residual-kept", f"{crashed}; the source served the process's pages instead"

    # -- the record ----------------------------------------------------------------
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
        traffic = self.node.traffic(session.pid) - before
        delays = traffic.message_delays
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
            failed=failed,
            phases=tuple(session.phases),
            requested_at=at("requested"),
            accepted_at=at("accepted"),
            frozen_at=at("frozen"),
            resumed_at=at("resumed"),
            residual_end_at=at("residual-end"),
            message_freeze_s=math.fsum(traffic.message_freezes),
            message_delay_max_s=max(delays, default=0.0),
            message_delay_mean_s=math.fsum(delays) / len(delays) if delays else 0.0,
            messages_delayed=len(delays),
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
            files_moved=session.files.files,
            file_blocks_flushed=session.files.blocks_flushed,
            file_blocks_moved=session.files.blocks_moved,
            outcome=outcome,
        )
        self.records.append(record)
        if outcome is None:
            self.log("record", pid=session.pid, refused=refused)
        else:
            self.log("record", pid=session.pid, refused=refused, failed=failed, outcome=outcome)
        return record

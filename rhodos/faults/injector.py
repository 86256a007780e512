"""The experimenter's hand: crashes and repairs nodes as a :class:`FaultPlan` says.

:class:`FaultInjector` turns failure detection on, starts the recovery manager on the
file-server node, a heartbeat and (with a checkpoint interval) a checkpointer on every
compute node, and then crashes and recovers nodes at the plan's instants, at its
migration phases, or at random. It is not part of the simulated system: it knows when
it crashed what, and keeps that for the report, but the system learns of a crash only
through its own timeouts and heartbeats. After a recovery it starts the new
incarnation's heartbeat, checkpointer, recovery manager and load settings again.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import simpy

from rhodos.faults.plan import Crash, FaultPlan, PhaseCrash, Shutdown
from rhodos.faults.recovery import Journal, RecoveryManager
from rhodos.faults.requests import HEARTBEAT_BYTES, Heartbeat
from rhodos.kernel import (
    CheckpointImage,
    Cluster,
    ConfigError,
    Detection,
    LogEvent,
    Node,
    RequestFailed,
)
from rhodos.load.requests import Configure, Where
from rhodos.migration_manager import MigrationRecord, make_strategy
from rhodos.migration_manager.requests import Checkpoint, Migrate

__all__ = ["EVACUATE_RETRY_S", "CrashEvent", "FaultInjector"]

#: How long a node about to shut down waits before it asks again to move a process that
#: was busy (a checkpoint under way).
EVACUATE_RETRY_S = 0.05


@attrs.frozen
class CrashEvent:
    """One crash the injector caused: when, which node, which incarnation, why."""

    at: float
    node: int
    incarnation: int
    cause: str


class FaultInjector:
    """Crashes and repairs the nodes of ``cluster`` as ``plan`` says."""

    def __init__(self, cluster: Cluster, plan: FaultPlan, *, load_settings: Any = None) -> None:
        fs = cluster.file_server()
        if fs is None:
            raise ConfigError("failures need a file server (ClusterConfig.file_servers >= 1)")
        self.cluster = cluster
        self.env = cluster.env
        self.plan = plan
        self.file_server = fs
        self.detection: Detection = plan.detection or Detection.for_profile(cluster.profile)
        cluster.detection = self.detection
        self.load_settings = load_settings
        self.crashes: list[CrashEvent] = []
        self.recoveries: list[tuple[float, int]] = []
        self.checkpoints: list[CheckpointImage] = []
        self.checkpoint_failures: list[str] = []
        self._phase_done: set[PhaseCrash] = set()
        self._start_file_server(cluster.node(fs))
        for node in cluster.nodes:
            self._start_compute(node)
        #: The migrations away from nodes that announced a shutdown, as they ended.
        self.evacuations: list[MigrationRecord] = []
        #: The processes that had left a node when its announced shutdown came.
        self.evacuated: list[int] = []
        for crash in plan.crashes:
            self.env.process(self._scheduled(crash))
        for shutdown in plan.shutdowns:
            self.env.process(self._shutdown(shutdown))
        if plan.phase_crashes:
            cluster.log.subscribe(self._on_event)
        if plan.random is not None:
            targets = [n.node_id for n in cluster.nodes]
            if plan.random.file_server:
                targets.append(fs)
            for node_id in targets:
                self.env.process(self._random(node_id))

    @property
    def journal(self) -> Journal:
        """The recovery manager's journal (on the file server's disk)."""
        journal: Journal = self.cluster.node(self.file_server).disk["recovery"]
        return journal

    # -- crashing and repairing ------------------------------------------------------
    def crash(self, node_id: int, cause: str, down_s: float | None = None) -> None:
        """Crash ``node_id`` now; bring it back after ``down_s`` (``None``: never)."""
        node = self.cluster.node(node_id)
        if node.crashed:
            return
        self.crashes.append(CrashEvent(float(self.env.now), node_id, node.incarnation, cause))
        self.cluster.crash(node_id)
        if down_s is not None:
            self.env.process(self._repair(node_id, down_s))

    def _repair(self, node_id: int, down_s: float) -> Generator[simpy.events.Event, Any, None]:
        yield self.env.timeout(down_s)
        self.recover(node_id)

    def recover(self, node_id: int) -> Node:
        """Bring ``node_id`` back, empty, with its fault-layer services started."""
        node = self.cluster.recover(node_id)
        self.recoveries.append((float(self.env.now), node_id))
        if node.kind == "compute":
            self._start_compute(node)
            if self.load_settings is not None:
                stream = self.cluster.rng("load", node_id, node.incarnation)
                node.submit("load", Configure(self.load_settings, len(self.cluster.nodes), stream))
        else:
            self._start_file_server(node)
        return node

    def _scheduled(self, crash: Crash) -> Generator[simpy.events.Event, Any, None]:
        yield self.env.timeout(crash.at_s)
        self.crash(crash.node, f"scheduled at {crash.at_s:g} s", crash.down_s)

    def _shutdown(self, spec: Shutdown) -> Generator[simpy.events.Event, Any, None]:
        """Announce, migrate every process away, then go down when the warning ends."""
        yield self.env.timeout(spec.at_s)
        node = self.cluster.node(spec.node)
        if node.crashed:
            return
        node.log("kernel", "shutdown-announced", within=spec.warning_s)
        strategy = make_strategy(spec.strategy)
        end = self.env.now + spec.warning_s
        pids = node.processes_on(node.node_id, node.incarnation)
        for pid in pids:
            self.env.process(self._evacuate(node, pid, strategy, end))
        yield self.env.timeout(spec.warning_s)
        self.evacuated.extend(p for p in pids if self.cluster.location_of.get(p) != spec.node)
        self.crash(spec.node, f"shutdown announced at {spec.at_s:g} s", spec.down_s)

    def _evacuate(
        self, node: Node, pid: int, strategy: Any, end: float
    ) -> Generator[simpy.events.Event, Any, None]:
        """Migrate ``pid`` away; asked again a little later while it is busy (a
        checkpoint under way), until the warning ends."""
        while self.env.now < end and not node.crashed:
            target = yield from self._elsewhere(node, pid)
            if target is None:
                return
            record = yield node.submit("migration", Migrate(pid, target, strategy))
            self.evacuations.append(record)
            if record.refused is None or "migrating" not in record.refused:
                return
            yield self.env.timeout(EVACUATE_RETRY_S)

    def _elsewhere(self, node: Node, pid: int) -> Generator[simpy.events.Event, Any, int | None]:
        """Where the location policy sends ``pid``; another live node if it says here."""
        live = [n.node_id for n in self.cluster.nodes if not n.crashed and n is not node]
        if not live:
            return None
        try:
            reply = yield node.call(node.role_port("load"), Where(node.architecture, 1))
            chosen = int(reply.body)
        except RequestFailed:
            chosen = node.node_id
        if chosen == node.node_id or chosen not in live:
            chosen = live[pid % len(live)]
        return chosen

    def _random(self, node_id: int) -> Generator[simpy.events.Event, Any, None]:
        failures = self.plan.random
        assert failures is not None
        rng = self.cluster.rng("failures", node_id)
        while True:
            up_for = float(rng.exponential(failures.mttf_s))
            down_for = float(rng.exponential(failures.mttr_s))
            if self.env.now + up_for >= self.plan.until_s:
                return
            yield self.env.timeout(up_for)
            self.crash(node_id, "random", None)
            yield self.env.timeout(down_for)
            self.recover(node_id)

    def _on_event(self, event: LogEvent) -> None:
        if event.component != "migration":
            return
        fields = dict(event.fields)
        for spec in self.plan.phase_crashes:
            if spec in self._phase_done or spec.phase != event.event:
                continue
            if fields.get("pid") != spec.pid:
                continue
            self._phase_done.add(spec)
            target = {
                "source": event.node,
                "destination": fields.get("dest"),
                "file-server": self.file_server,
            }[spec.target]
            if target is None:
                continue
            cause = f"{spec.target} at phase {spec.phase} of process {spec.pid}"
            self.env.process(self._at_once(int(target), cause, spec.down_s))

    def _at_once(
        self, node_id: int, cause: str, down_s: float | None
    ) -> Generator[simpy.events.Event, Any, None]:
        yield self.env.timeout(0)  # the phase's own step completes this instant first
        self.crash(node_id, cause, down_s)

    # -- the services of each incarnation ------------------------------------------
    def _start_file_server(self, node: Node) -> None:
        RecoveryManager(
            node,
            self.detection,
            len(self.cluster.nodes),
            until=self.plan.until_s,
            from_start=self.plan.restart_from_start,
        )

    def _start_compute(self, node: Node) -> None:
        self.env.process(self._heartbeat(node))
        if self.plan.checkpoint_interval_s is not None:
            self.env.process(self._checkpointer(node, self.plan.checkpoint_interval_s))

    def _heartbeat(self, node: Node) -> Generator[simpy.events.Event, Any, None]:
        interval = self.detection.heartbeat_interval_s
        while not node.crashed and self.env.now < self.plan.until_s:
            port = node.role_port("recovery", self.file_server)
            node.send(port, Heartbeat(node.node_id, node.incarnation), size_bytes=HEARTBEAT_BYTES)
            yield self.env.timeout(interval)

    def _checkpointer(
        self, node: Node, interval: float
    ) -> Generator[simpy.events.Event, Any, None]:
        """Checkpoint every process of this node every ``interval``, from a random phase."""
        rng = self.cluster.rng("checkpoint", node.node_id, node.incarnation)
        yield self.env.timeout(float(rng.uniform(0, interval)))
        taken: set[int] = set()
        while not node.crashed and self.env.now < self.plan.until_s:
            for pid in node.processes_on(node.node_id, node.incarnation):
                full = not self.plan.incremental or pid not in taken
                try:
                    reply = yield node.call(node.role_port("migration"), Checkpoint(pid, full))
                except RequestFailed as failed:
                    self.checkpoint_failures.append(str(failed))
                    continue
                if isinstance(reply.body, CheckpointImage):
                    taken.add(pid)
                    self.checkpoints.append(reply.body)
                else:
                    self.checkpoint_failures.append(str(reply.body))
            yield self.env.timeout(interval)

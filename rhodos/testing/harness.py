"""The harness: a booted cluster with oracles spawned on it and every invariant watched."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import attrs
import simpy

from rhodos.kernel import Cluster, LogEvent
from rhodos.migration_manager import MigrationRecord, registered
from rhodos.system import boot, spawn
from rhodos.system import migrate as system_migrate
from rhodos.testing.checks import (
    check_failures,
    check_ipc,
    check_quiescent,
    check_record,
    check_residual,
    exited,
)
from rhodos.testing.files import FileOracle
from rhodos.testing.monitor import LocationMonitor
from rhodos.testing.oracles import (
    MemoryOracle,
    MessageLog,
    OracleClient,
    OracleServer,
    StreamReceiver,
    StreamSender,
    Talker,
)

__all__ = ["Hang", "Harness"]


class Hang(BaseException):
    """The simulation ran past its wall-clock budget (a loop at one simulated instant).

    Like ``KeyboardInterrupt`` it is not an :class:`Exception`: the servers turn the
    exceptions of their handlers into failure replies, and a hang must not be one.
    """


@attrs.define(eq=False)
class _Launched:
    pid: int
    source: int
    dest: int
    strategy: str
    event: simpy.Event
    record: MigrationRecord | None = None


class Harness:
    """A booted cluster with oracles spawned on it and every invariant watched.

    Instantaneous invariants are checked as the run goes -- single location on every
    kernel event and every ``period_s``; the residual promise of each migration asked
    for through :meth:`migrate` at its resume and at the end of its residual
    dependency -- and :meth:`finish` runs to completion and checks the rest.
    """

    def __init__(self, cluster: Cluster, *, period_s: float = 0.002) -> None:
        self.cluster = cluster
        self.env = cluster.env
        self.messages = MessageLog()
        self.memory: list[MemoryOracle] = []
        self.files: list[FileOracle] = []
        self.pids: list[int] = []
        #: The node each process was spawned on.
        self.home: dict[int, int] = {}
        self.pairs: list[tuple[int, int]] = []
        self.monitor = LocationMonitor(cluster, period_s=period_s)
        self.launched: list[_Launched] = []
        self.residual_violations: list[str] = []
        self.migration_errors: list[str] = []
        #: What a scenario's driver found wrong.
        self.problems: list[str] = []
        #: The wall-clock instant (``time.monotonic``) after which :meth:`run` raises.
        self.wall_deadline: float | None = None
        cluster.log.subscribe(self._on_event)

    @classmethod
    def boot(cls, **config: Any) -> Harness:
        """A harness on ``boot(**config)`` (small defaults: 3 SPARC nodes, seed 0)."""
        config.setdefault("nodes", 3)
        config.setdefault("profile", "sparc-ethernet")
        return cls(boot(**config))

    # -- spawning ----------------------------------------------------------------------
    def spawn(self, program: Any, node: int, **kwargs: Any) -> int:
        """Spawn ``program`` on ``node`` and watch the process (and the oracle's findings)."""
        if isinstance(program, MemoryOracle):
            self.memory.append(program)
        if isinstance(program, FileOracle):
            self.files.append(program)
        pid, _ = spawn(self.cluster, program, node, **kwargs)
        self.pids.append(pid)
        self.home[pid] = node
        self.monitor.watch(pid)
        return pid

    def spawn_memory(self, node: int, **params: Any) -> int:
        """A :class:`MemoryOracle` on ``node``."""
        return self.spawn(MemoryOracle(self.cluster, **params), node)

    def spawn_files(self, node: int, **params: Any) -> int:
        """A :class:`~rhodos.testing.files.FileOracle` on ``node``."""
        return self.spawn(FileOracle(self.cluster, **params), node)

    def spawn_pair(self, a: int, b: int, **params: Any) -> tuple[int, int]:
        """Two :class:`Talker` processes on nodes ``a`` and ``b`` talking to each other."""
        first = self.cluster.new_pid()
        second = self.cluster.new_pid()
        self.spawn(Talker(self.messages, **params), a, pid=first, peers={"peer": second})
        self.spawn(Talker(self.messages, **params), b, pid=second, peers={"peer": first})
        self.pairs.append((first, second))
        return first, second

    def spawn_stream(self, sender: int, receiver: int, **params: Any) -> tuple[int, int]:
        """A :class:`StreamSender` on ``sender`` streaming to a :class:`StreamReceiver`."""
        rx = self.spawn(StreamReceiver(self.messages, **params), receiver)
        tx = self.spawn(StreamSender(self.messages, **params), sender, peers={"peer": rx})
        self.pairs.append((tx, rx))
        return tx, rx

    def spawn_server(
        self, node: int, client_nodes: Sequence[int], *, requests: int = 15, **params: Any
    ) -> tuple[int, list[int]]:
        """An :class:`OracleServer` on ``node`` and one :class:`OracleClient` per client node."""
        total = requests * len(client_nodes)
        server = self.spawn(OracleServer(self.messages, requests=total), node)
        clients = [
            self.spawn(
                OracleClient(self.messages, requests=requests, **params),
                n,
                peers={"server": server},
            )
            for n in client_nodes
        ]
        return server, clients

    # -- migrating ---------------------------------------------------------------------
    def migrate(self, pid: int, dest: int, strategy: str, **params: Any) -> simpy.Event:
        """Ask for a migration (as :func:`rhodos.system.migrate`) and watch its promises."""
        source = self.cluster.location_of.get(pid, 0)
        event = system_migrate(self.cluster, pid, dest, strategy, **params)
        launched = _Launched(pid, source, dest, strategy, event)
        self.launched.append(launched)
        event.callbacks.append(lambda e: self._on_record(launched, e))
        return event

    def _on_record(self, launched: _Launched, event: simpy.events.Event) -> None:
        if event.ok:
            launched.record = event.value
        else:
            event.defused = True
            self.migration_errors.append(
                f"migration of {launched.pid} {launched.source}->{launched.dest} with "
                f"{launched.strategy} raised {event.value!r}"
            )

    @property
    def records(self) -> list[MigrationRecord]:
        """The records of the finished migrations asked for through :meth:`migrate`."""
        return [m.record for m in self.launched if m.record is not None]

    def _on_event(self, event: LogEvent) -> None:
        """Check the residual promise of a migration at its resume and at its residual end."""
        if event.component != "migration" or event.event not in ("resumed", "residual-end"):
            return
        fields = dict(event.fields)
        pid, source = fields.get("pid"), event.node
        for launched in reversed(self.launched):
            if launched.pid == pid and launched.source == source and launched.record is None:
                residual = registered()[launched.strategy].residual
                if event.event == "residual-end" or residual in ("none", "file-server"):
                    self.residual_violations.extend(
                        f"{launched.strategy} ({event.event}): {p}"
                        for p in check_residual(self.cluster, pid, source)
                    )
                return

    # -- checking ----------------------------------------------------------------------
    def check_records(self) -> list[str]:
        """:func:`check_record` on every finished record."""
        out = []
        strategies = registered()
        for record in self.records:
            out.extend(check_record(record, strategies[record.strategy], self.cluster))
        return out

    def violations_so_far(self) -> list[str]:
        """Everything found wrong up to now (the invariants that hold at every instant)."""
        return [
            *self.problems,
            *self.monitor.violations,
            *self.residual_violations,
            *self.migration_errors,
            *self.messages.violations(),
            *(v for oracle in self.memory for v in oracle.violations),
            *(v for oracle in self.files for v in oracle.violations),
            *self.check_records(),
        ]

    # -- running -----------------------------------------------------------------------
    def watch_the_clock(self, wall_s: float) -> None:
        """From now on, :meth:`run` raises :class:`Hang` once ``wall_s`` wall-clock seconds
        have passed: a simulation looping at one instant would otherwise never return."""
        self.wall_deadline = time.monotonic() + wall_s

    def run(self, until: float | simpy.events.Event) -> None:
        """Run the simulation to ``until`` (an absolute time or an event), under the watch of
        the wall clock when :meth:`watch_the_clock` was called."""
        if self.wall_deadline is None:
            if isinstance(until, simpy.events.Event) or until > self.env.now:
                self.cluster.run(until=until)
            return
        env = self.env
        stop = until if isinstance(until, simpy.events.Event) else env.timeout(until - env.now)
        steps = 0
        while not stop.processed and env.peek() != float("inf"):
            env.step()
            steps += 1
            if steps % 1024 == 0 and time.monotonic() > self.wall_deadline:
                raise Hang(
                    f"the simulation ran past its wall-clock budget at simulated "
                    f"t={env.now:.6f} after {steps} steps of this run"
                )

    def settle_s(self) -> float:
        """Simulated time for the records to complete and the servers to settle once every
        process has exited: releases, closes and the last replies, a few messages each."""
        profile = self.cluster.profile
        return 1.0 + 10 * (profile.network_latency_s + profile.file_server_latency_s)

    def finish(self, *, limit_s: float = 60.0) -> list[str]:
        """Run to completion (at most ``limit_s`` more simulated seconds) and check everything."""
        done = self.env.all_of([self.cluster.exit_event(pid) for pid in self.pids])
        self.run(self.env.any_of([done, self.env.timeout(limit_s)]))
        # Let the records complete and the servers settle (releases, closes, replies).
        self.run(self.env.now + self.settle_s())
        out = self.violations_so_far()
        out.extend(self.messages.violations(final=True)[len(self.messages.problems) :])
        for oracle in self.memory:
            if oracle.checked_at is None:
                out.append(f"memory oracle {oracle.pid} never checked its pages")
        for files in self.files:
            if files.checked_at is None:
                out.append(f"file oracle {files.pid} never checked its files")
        out.extend(check_ipc(self.cluster))
        out.extend(check_failures(self.cluster))
        out.extend(check_quiescent(self.cluster, self.pids))
        for launched in self.launched:
            if launched.record is None and not any(
                launched.pid == p and not exited(self.cluster, p) for p in self.pids
            ):
                out.append(
                    f"migration of {launched.pid} {launched.source}->{launched.dest} "
                    f"({launched.strategy}) never produced a record"
                )
        return list(dict.fromkeys(out))

"""Oracles and invariant checkers: the conformance suite every migration strategy must pass.

Like ``trio.testing``, this module is public so that the author of a new strategy can
run the project's own checks on it::

    from rhodos.testing import conformance_scenarios, run_conformance

    for scenario in conformance_scenarios():
        result = run_conformance("my-strategy", scenario.name, seed=1)
        assert result.violations == [], result.violations

It holds three kinds of things:

* **Oracle programs** that record what they did, so the invariants of DESIGN.md can be
  checked against what the system did: a :class:`MemoryOracle` that tallies the page
  versions it wrote and, right before it exits, compares them with the pages where the
  system keeps them; and message oracles (:class:`Talker`, :class:`StreamSender` /
  :class:`StreamReceiver`, :class:`OracleServer` / :class:`OracleClient`) that record,
  per channel, every body sent and received in a shared :class:`MessageLog`.
* **Checkers**, plain functions returning a list of violations (empty: all is well):
  :func:`check_single_location`, :func:`check_record`, :func:`check_residual`,
  :func:`check_ipc`, :func:`check_quiescent`, and :func:`page_versions`, which finds the
  authoritative version of every page of a process.
* A :class:`Harness` that attaches all of them to a booted cluster (checking the
  instantaneous invariants on every kernel event and every few milliseconds), and the
  conformance scenarios built on it (:func:`conformance_scenarios`,
  :func:`run_conformance`).

The checkers read the servers' tables through the kernel's debug accessor
(:meth:`rhodos.kernel.Node.debug_server`): that is what a test may do and a server may
not.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any, cast

import attrs
import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel import (
    FILE,
    HERE,
    ZERO,
    Cluster,
    Compute,
    Exit,
    LogEvent,
    Receive,
    Send,
    Sleep,
    Touch,
)
from rhodos.migration_manager import MigrationRecord, registered
from rhodos.system import boot, spawn
from rhodos.system import migrate as system_migrate
from rhodos.workload import ProgramContext, ProgramGenerator, ReferenceModel

__all__ = [
    "REFUSALS_IN_FLIGHT",
    "ConformanceResult",
    "Harness",
    "LocationMonitor",
    "MemoryOracle",
    "MessageLog",
    "OracleClient",
    "OracleServer",
    "Scenario",
    "StreamReceiver",
    "StreamSender",
    "Talker",
    "check_ipc",
    "check_quiescent",
    "check_record",
    "check_residual",
    "check_single_location",
    "conformance_scenarios",
    "page_versions",
    "run_conformance",
]

KIB = 1024
#: Slack for comparing simulated times computed along different paths.
TIME_TOLERANCE_S = 1e-9

#: Refusal reasons (substrings) that are a legitimate outcome when migrations are asked
#: for at random moments: the process is being migrated, has left the node the request
#: went to, has exited, or already is on the destination.
REFUSALS_IN_FLIGHT = ("already migrating", "no process", "exited", "already runs on")

Channel = tuple[int, int]


# -- reading the servers' tables ---------------------------------------------------------
def _server(cluster: Cluster, node_id: int, role: str) -> Any:
    return cluster.node(node_id).debug_server(role)


def _space(cluster: Cluster, node_id: int, pid: int) -> Any:
    return _server(cluster, node_id, "memory").spaces.get(pid)


def _exited(cluster: Cluster, pid: int) -> bool:
    return bool(cluster.exit_event(pid).triggered)


def _live(cluster: Cluster, pid: int) -> bool:
    """Committed somewhere (spawned) and not exited."""
    return pid in cluster.location_of and not _exited(cluster, pid)


# -- memory ------------------------------------------------------------------------------
def page_versions(cluster: Cluster, pid: int) -> tuple[npt.NDArray[np.int64], list[str]]:
    """The authoritative version of every page of live process ``pid``, and any problem.

    A page is resident on the node the process runs on (``cluster.location_of``), or its
    location there says where it is: a peer whose Memory Manager holds it resident, the
    file server (a version never written there is the initial image, version 0), or
    nowhere yet (zero-filled: version 0). A page that is where nothing holds it is
    lost; its version is -1.
    """
    here = cluster.location_of[pid]
    space = _space(cluster, here, pid)
    if space is None:
        return np.empty(0, dtype=np.int64), [
            f"process {pid}: no address space on node {here}, where it runs"
        ]
    out = np.full(space.pages, -1, dtype=np.int64)
    problems: list[str] = []
    resident = space.resident
    out[resident] = space.version[resident]
    away = np.flatnonzero(~resident)
    where = space.location[away].astype(np.int64)
    out[away[where == ZERO]] = 0
    on_file = away[where == FILE]
    if on_file.size:
        if not cluster.file_server_nodes:
            problems.append(f"process {pid}: pages {on_file.tolist()} on a missing file server")
        else:
            stored = _server(cluster, cluster.file_server_nodes[0].node_id, "file")
            versions = stored.snapshot(pid)
            known = on_file < versions.size
            out[on_file] = 0
            out[on_file[known]] = np.maximum(versions[on_file[known]], 0)
    marked_here = away[where == HERE]
    if marked_here.size:
        problems.append(
            f"process {pid}: pages {marked_here.tolist()} marked here on node {here} "
            "but not resident"
        )
    for peer in np.unique(where[where >= 0]).tolist():
        pages = away[where == peer]
        if peer == here:
            problems.append(
                f"process {pid}: pages {pages.tolist()} located at node {peer}, "
                "where it runs, but not resident"
            )
            continue
        holder = _space(cluster, peer, pid)
        if holder is None:
            problems.append(
                f"process {pid}: pages {pages.tolist()} located at node {peer}, "
                "which holds no copy of its address space"
            )
            continue
        held = holder.resident[pages]
        out[pages[held]] = holder.version[pages[held]]
        if not held.all():
            problems.append(
                f"process {pid}: pages {pages[~held].tolist()} located at node {peer}, "
                "which does not hold them"
            )
    return out, problems


@attrs.define(eq=False)
class MemoryOracle:
    """A memory-writing program that knows the version every page must have.

    Like :class:`rhodos.workload.Computer` with a :class:`ReferenceModel` writing
    ``dirty_rate`` pages per second: compute bursts, each followed by its batch of
    references. The kernel raises a written page's version once per batch, so the
    oracle tallies, per page, how many batches wrote it. Right before it exits -- inside
    its generator, while the process still exists -- it looks every page up where the
    system keeps it (:func:`page_versions`) and records any difference in
    :attr:`violations`.

    One instance runs as one process (it holds that process's observations).
    """

    cluster: Cluster = attrs.field(repr=False)
    name: str = "memory-oracle"
    memory_bytes: int = 96 * KIB
    cpu_seconds: float = 0.6
    burst_s: float = 0.01
    dirty_rate: float = 400.0
    refs_per_s: float = 1600.0
    working_set: float = 1.0
    locality: float = 0.3
    #: Every this many bursts, also read every page (0: never), so that a lazy
    #: migration's residual dependency ends while the process runs.
    sweep_every: int = 10
    #: Filled in as the program runs.
    pid: int | None = None
    written: npt.NDArray[np.int64] | None = attrs.field(default=None, repr=False)
    batches: int = 0
    checked_at: float | None = None
    violations: list[str] = attrs.field(factory=list)

    @property
    def refs(self) -> ReferenceModel:
        """The reference model of the bursts."""
        return ReferenceModel(
            working_set=self.working_set,
            locality=self.locality,
            refs_per_s=self.refs_per_s,
            dirty_rate=self.dirty_rate,
        )

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        if self.pid is not None:
            raise RuntimeError("a MemoryOracle runs as one process only; make another")
        self.pid = ctx.pid
        layout = ctx.layout
        self.written = np.zeros(layout.pages, dtype=np.int64)
        refs, code = self.refs, layout.segments()[0]
        done, i = 0.0, 0
        while self.cpu_seconds - done > 1e-12:
            burst = min(self.burst_s, self.cpu_seconds - done)
            yield Compute(burst)
            touch = refs.sample(layout, burst, ctx.rng, code_page=code.first + i % code.pages)
            if self.sweep_every and i % self.sweep_every == self.sweep_every - 1:
                touch = Touch(
                    np.concatenate((touch.pages, np.arange(layout.pages))),
                    np.concatenate((touch.writes, np.zeros(layout.pages, dtype=np.bool_))),
                )
            yield touch
            self.written[np.unique(touch.pages[touch.writes])] += 1
            self.batches += 1
            done += burst
            i += 1
        self.check()
        yield Exit(0)

    def check(self) -> list[str]:
        """Compare every page's authoritative version with the tally; record differences."""
        assert self.pid is not None and self.written is not None
        self.checked_at = float(self.cluster.now)
        found, problems = page_versions(self.cluster, self.pid)
        if found.size == self.written.size:
            wrong = np.flatnonzero(found != self.written)
            if wrong.size:
                problems.append(
                    f"process {self.pid}: page versions differ from the writes at "
                    f"t={self.checked_at:.6f}: "
                    + ", ".join(
                        f"page {p} is {found[p]}, written {self.written[p]}"
                        for p in wrong[:8].tolist()
                    )
                )
        self.violations.extend(problems)
        return problems


# -- messages ----------------------------------------------------------------------------
@attrs.define(eq=False)
class MessageLog:
    """What the message oracles of one run sent and received, per channel (src, dst).

    A body is recorded as sent when the program issues the send (a send, once issued,
    always completes), and as received when the program gets it; every body is unique
    on its channel, so exactly-once FIFO delivery means: what a channel received is a
    prefix of what it sent, and at the end all of it.
    """

    sent: dict[Channel, list[Any]] = attrs.field(factory=lambda: defaultdict(list))
    received: dict[Channel, list[Any]] = attrs.field(factory=lambda: defaultdict(list))
    #: What the programs themselves found wrong (an unexpected reply, a gap).
    problems: list[str] = attrs.field(factory=list)

    def on_send(self, src: int, dst: int, body: Any) -> None:
        """``src`` issued a send of ``body`` to ``dst``."""
        self.sent[(src, dst)].append(body)

    def on_receive(self, src: int, dst: int, body: Any) -> None:
        """``dst`` received ``body`` from ``src``."""
        self.received[(src, dst)].append(body)

    def violations(self, *, final: bool = False) -> list[str]:
        """Duplicated, reordered or unexpected deliveries; with ``final``, lost ones too."""
        out = list(self.problems)
        for channel in sorted(set(self.sent) | set(self.received)):
            sent, got = self.sent.get(channel, []), self.received.get(channel, [])
            src, dst = channel
            if got != sent[: len(got)]:
                at = next(
                    (i for i, (a, b) in enumerate(zip(got, sent, strict=False)) if a != b),
                    min(len(got), len(sent)),
                )
                out.append(
                    f"channel {src}->{dst}: delivery {at} was {_at(got, at)!r}, "
                    f"expected {_at(sent, at)!r} (duplicate, reordered or unknown; "
                    f"{len(got)} received of {len(sent)} sent)"
                )
            elif final and len(got) != len(sent):
                out.append(
                    f"channel {src}->{dst}: {len(sent) - len(got)} of {len(sent)} messages "
                    f"never received (first lost: {sent[len(got)]!r})"
                )
        return out


def _at(items: Sequence[Any], index: int) -> Any:
    return items[index] if index < len(items) else "<nothing>"


@attrs.define(eq=False)
class Talker:
    """One side of a two-way conversation with ``peers['peer']``.

    Each round it sends ``window`` numbered messages, then receives ``window`` from its
    peer; two talkers facing each other keep messages flowing both ways at once.
    """

    log: MessageLog = attrs.field(repr=False)
    name: str = "talker"
    memory_bytes: int = 32 * KIB
    rounds: int = 40
    window: int = 3
    size_bytes: int = 512
    compute_s: float = 0.002
    #: Idle time before the first send (its peer is still being spawned).
    start_s: float = 0.005
    #: Read every page after each round, so that a lazy migration's residual ends.
    sweep: bool = True

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        peer, me = ctx.peers["peer"], ctx.pid
        every_page = np.arange(ctx.layout.pages)
        yield Sleep(self.start_s)
        for r in range(self.rounds):
            if self.sweep:
                yield Touch(every_page, np.zeros(every_page.size, dtype=np.bool_))
            for j in range(self.window):
                body = ("talk", me, r, j)
                self.log.on_send(me, peer, body)
                yield Send(peer, self.size_bytes, body)
                yield Compute(self.compute_s)
            for j in range(self.window):
                message = yield Receive()
                self.log.on_receive(message.src_pid, me, message.body)
                if message.body != ("talk", peer, r, j):
                    self.log.problems.append(
                        f"talker {me} expected {('talk', peer, r, j)!r}, got {message.body!r}"
                    )
        yield Exit(0)


@attrs.define(eq=False)
class StreamSender:
    """Sends ``chunks`` numbered chunks to ``peers['peer']`` without waiting."""

    log: MessageLog = attrs.field(repr=False)
    name: str = "stream-sender"
    memory_bytes: int = 32 * KIB
    chunks: int = 120
    size_bytes: int = 1024
    compute_s: float = 0.003
    #: Idle time before the first send (its peer is still being spawned).
    start_s: float = 0.005

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        peer, me = ctx.peers["peer"], ctx.pid
        yield Sleep(self.start_s)
        for i in range(self.chunks):
            yield Compute(self.compute_s)
            self.log.on_send(me, peer, ("chunk", i))
            yield Send(peer, self.size_bytes, ("chunk", i))
        yield Exit(0)


@attrs.define(eq=False)
class StreamReceiver:
    """Receives ``chunks`` chunks and checks they are contiguous: 0, 1, 2, ..."""

    log: MessageLog = attrs.field(repr=False)
    name: str = "stream-receiver"
    memory_bytes: int = 32 * KIB
    chunks: int = 120
    compute_s: float = 0.001

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        me = ctx.pid
        for i in range(self.chunks):
            message = yield Receive()
            self.log.on_receive(message.src_pid, me, message.body)
            if message.body != ("chunk", i):
                self.log.problems.append(
                    f"stream into {me}: chunk {i} expected, got {message.body!r}"
                )
            yield Compute(self.compute_s)
        yield Exit(0)


@attrs.define(eq=False)
class OracleServer:
    """Serves ``requests`` requests from any client, replying to each with its number."""

    log: MessageLog = attrs.field(repr=False)
    name: str = "oracle-server"
    memory_bytes: int = 64 * KIB
    requests: int = 60
    service_s: float = 0.004
    reply_bytes: int = 1024

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        me = ctx.pid
        for _ in range(self.requests):
            request = yield Receive()
            self.log.on_receive(request.src_pid, me, request.body)
            yield Compute(self.service_s)
            body = ("reply", request.body)
            self.log.on_send(me, request.src_pid, body)
            yield Send(request.src_pid, self.reply_bytes, body)
        yield Exit(0)


@attrs.define(eq=False)
class OracleClient:
    """Sends ``requests`` numbered requests to ``peers['server']``, awaiting each reply."""

    log: MessageLog = attrs.field(repr=False)
    name: str = "oracle-client"
    memory_bytes: int = 32 * KIB
    requests: int = 20
    request_bytes: int = 256
    think_s: float = 0.01

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        server, me = ctx.peers["server"], ctx.pid
        for i in range(self.requests):
            yield Sleep(float(ctx.rng.exponential(self.think_s)))
            body = ("request", me, i)
            self.log.on_send(me, server, body)
            yield Send(server, 256, body)
            reply = yield Receive()
            self.log.on_receive(reply.src_pid, me, reply.body)
            if reply.body != ("reply", body):
                self.log.problems.append(
                    f"client {me} expected the reply to {body!r}, got {reply.body!r}"
                )
        yield Exit(0)


# -- processes and locations ---------------------------------------------------------------
def check_single_location(cluster: Cluster, pids: Iterable[int]) -> list[str]:
    """At this instant: each live process runs on at most one node, the one it is committed to.

    For every pid committed and not exited: at most one :class:`~rhodos.kernel.Thread`
    exists for it across the nodes, that thread is on ``cluster.location_of[pid]``, and
    the Process Manager there holds the PCB (never zero places, never two).
    """
    out: list[str] = []
    for pid in pids:
        if not _live(cluster, pid):
            continue
        where = cluster.location_of[pid]
        running = [node.node_id for node in cluster.nodes if pid in node.threads]
        if len(running) > 1:
            out.append(f"t={cluster.now:.6f}: process {pid} has threads on nodes {running}")
        elif running and running[0] != where:
            out.append(
                f"t={cluster.now:.6f}: process {pid} runs on node {running[0]} "
                f"but is committed to node {where}"
            )
        manager = _server(cluster, where, "process")
        if pid not in manager.pcbs and pid not in manager.finished:
            out.append(
                f"t={cluster.now:.6f}: process {pid} is committed to node {where}, "
                "whose Process Manager has no PCB for it"
            )
    return out


class LocationMonitor:
    """Checks :func:`check_single_location` every ``period_s`` and on every kernel event.

    It runs as a simpy process until every watched process has exited; violations
    accumulate in :attr:`violations` (each distinct message once).
    """

    def __init__(self, cluster: Cluster, pids: Iterable[int] = (), period_s: float = 0.002):
        self.cluster = cluster
        self.pids: list[int] = list(pids)
        self.period_s = period_s
        self.violations: list[str] = []
        self.checks = 0
        self._seen: set[str] = set()
        self._running = False
        cluster.log.subscribe(self._on_event)

    def watch(self, pid: int) -> None:
        """Watch one more process (and start ticking if not yet)."""
        self.pids.append(pid)
        if not self._running:
            self._running = True
            self.cluster.env.process(self._tick())

    def check(self) -> list[str]:
        """Check now; add new violations to :attr:`violations`; return this check's."""
        self.checks += 1
        found = check_single_location(self.cluster, self.pids)
        for problem in found:
            key = problem.split(": ", 1)[-1]
            if key not in self._seen:
                self._seen.add(key)
                self.violations.append(problem)
        return found

    def _on_event(self, event: LogEvent) -> None:
        if event.component in ("kernel", "thread", "process"):
            self.check()

    def _tick(self) -> Generator[simpy.events.Event, Any, None]:
        env = self.cluster.env
        while any(not _exited(self.cluster, pid) for pid in self.pids):
            yield env.timeout(self.period_s)
            self.check()
        self._running = False


# -- migration records and residual dependencies -------------------------------------------
def _faulting(cluster: Cluster, pid: int, space: Any) -> npt.NDArray[np.int64]:
    """Pages on their way to the process right now: the one it faults on (and prefetch)."""
    thread = cluster.node(cluster.location_of[pid]).threads.get(pid)
    step = thread.context.step if thread is not None else None
    progress = thread.context.progress if thread is not None else None
    if not isinstance(step, Touch) or progress is None or progress >= step.pages.size:
        return np.empty(0, dtype=np.int64)
    page = int(step.pages[int(progress)])
    return np.arange(page, min(space.pages, page + 1 + space.prefetch), dtype=np.int64)


def check_residual(cluster: Cluster, pid: int, source: int) -> list[str]:
    """Right now the process depends on nothing held at ``source``.

    Its address space where it runs locates no page at ``source`` (trivially true when
    it runs on ``source`` again, or has exited) -- except the pages of the fault it
    waits on, which may be on the wire from there.
    """
    if not _live(cluster, pid) or cluster.location_of[pid] == source:
        return []
    here = cluster.location_of[pid]
    space = _space(cluster, here, pid)
    if space is None:
        return []
    left = np.setdiff1d(
        np.flatnonzero(~space.resident & (space.location == source)),
        _faulting(cluster, pid, space),
    )
    if left.size:
        return [
            f"t={cluster.now:.6f}: process {pid} on node {here} still has pages "
            f"{left[:10].tolist()} ({left.size}) at node {source}, whose dependency has ended"
        ]
    return []


def check_record(
    record: MigrationRecord, strategy_cls: type[Any], cluster: Cluster | None = None
) -> list[str]:
    """The metric invariants of one finished migration record.

    freeze <= latency <= total (up to float rounding), bytes on the network >= the
    execution state, no residual time for a strategy that promises none, and -- given
    the ``cluster`` -- the source holds nothing of the process any more (unless the
    process came back to it, or is on its way back) and, if the process still runs
    elsewhere, its address space locates no page at the source. A refusal only has to
    say why.
    """
    label = f"{record.strategy} {record.source}->{record.destination} of process {record.pid}"
    if record.refused is not None:
        if not record.refused:
            return [f"{label}: refused without a reason"]
        return []
    out: list[str] = []
    times = {
        "freeze": record.freeze_s,
        "latency": record.latency_s,
        "total": record.total_s,
        "residual": record.residual_s,
    }
    for name, value in times.items():
        if not math.isfinite(value) or value < -TIME_TOLERANCE_S:
            out.append(f"{label}: {name} time is {value!r}")
    if not record.freeze_s <= record.latency_s + TIME_TOLERANCE_S:
        out.append(f"{label}: freeze {record.freeze_s!r} s > latency {record.latency_s!r} s")
    if not record.latency_s <= record.total_s + TIME_TOLERANCE_S:
        out.append(f"{label}: latency {record.latency_s!r} s > total {record.total_s!r} s")
    if record.bytes_total < record.state_bytes:
        out.append(
            f"{label}: {record.bytes_total} bytes on the network < {record.state_bytes} "
            "bytes of state"
        )
    if strategy_cls.residual == "none" and record.residual_s != 0:
        out.append(f"{label}: promises no residual dependency, has {record.residual_s!r} s")
    if cluster is not None:
        # The source may hold the process again: it came back, or a later migration to
        # it is under way (its Migration Manager still counts it as incoming).
        back = (
            _live(cluster, record.pid) and cluster.location_of[record.pid] == record.source
        ) or record.pid in _server(cluster, record.source, "migration").incoming
        if not back and _space(cluster, record.source, record.pid) is not None:
            out.append(f"{label}: the source still holds an address space for the process")
        out.extend(f"{label}: {p}" for p in check_residual(cluster, record.pid, record.source))
    return out


def check_ipc(cluster: Cluster) -> list[str]:
    """No IPC Manager counted a duplicate or dropped a user message (statistics and log)."""
    out: list[str] = []
    for node in cluster.nodes:
        stats = node.statistics("ipc")
        if stats.duplicates or stats.dropped:
            out.append(
                f"node {node.node_id}: IPC statistics count {stats.duplicates} duplicates, "
                f"{stats.dropped} dropped"
            )
    for event in cluster.log.select(component="ipc"):
        if event.event in ("duplicate", "user-drop", "unreceived"):
            out.append(f"t={event.time:.6f} node {event.node}: {event.event} {dict(event.fields)}")
    return out


def check_quiescent(cluster: Cluster, pids: Iterable[int]) -> list[str]:
    """After the run: every process exited, and no server still holds anything of it."""
    out: list[str] = []
    pids = list(pids)
    for pid in pids:
        if not _exited(cluster, pid):
            where = cluster.location_of.get(pid)
            out.append(f"t={cluster.now:.6f}: process {pid} (on node {where}) never exited")
            continue
        for node in cluster.nodes:
            if _space(cluster, node.node_id, pid) is not None:
                out.append(f"node {node.node_id} still holds an address space of process {pid}")
            ipc = node.debug_server("ipc")
            if pid in ipc.comm or ipc.held.get(pid) or ipc.expected.get(pid):
                out.append(f"node {node.node_id} still holds messages or state of process {pid}")
            if pid in node.debug_server("process").pcbs:
                out.append(f"node {node.node_id} still holds a live PCB of process {pid}")
    if all(_exited(cluster, pid) for pid in cluster.location_of):
        for node in cluster.nodes:
            if node.frames_used:
                out.append(f"node {node.node_id}: {node.frames_used} frames still allocated")
    return out


# -- the harness ---------------------------------------------------------------------------
@attrs.define(eq=False)
class _Launched:
    pid: int
    source: int
    dest: int
    strategy: str
    event: simpy.Process
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
        pid, _ = spawn(self.cluster, program, node, **kwargs)
        self.pids.append(pid)
        self.home[pid] = node
        self.monitor.watch(pid)
        return pid

    def spawn_memory(self, node: int, **params: Any) -> int:
        """A :class:`MemoryOracle` on ``node``."""
        return self.spawn(MemoryOracle(self.cluster, **params), node)

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
    def migrate(self, pid: int, dest: int, strategy: str, **params: Any) -> simpy.Process:
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
            *self.check_records(),
        ]

    def finish(self, *, limit_s: float = 60.0) -> list[str]:
        """Run to completion (at most ``limit_s`` more simulated seconds) and check everything."""
        done = self.env.all_of([self.cluster.exit_event(pid) for pid in self.pids])
        self.cluster.run(until=self.env.any_of([done, self.env.timeout(limit_s)]))
        # Let the records complete and the servers settle (releases, closes, replies).
        self.cluster.run(until=self.env.now + 1.0)
        out = self.violations_so_far()
        out.extend(self.messages.violations(final=True)[len(self.messages.problems) :])
        for oracle in self.memory:
            if oracle.checked_at is None:
                out.append(f"memory oracle {oracle.pid} never checked its pages")
        out.extend(check_ipc(self.cluster))
        out.extend(check_quiescent(self.cluster, self.pids))
        for launched in self.launched:
            if launched.record is None and not any(
                launched.pid == p and not _exited(self.cluster, p) for p in self.pids
            ):
                out.append(
                    f"migration of {launched.pid} {launched.source}->{launched.dest} "
                    f"({launched.strategy}) never produced a record"
                )
        return list(dict.fromkeys(out))


# -- conformance scenarios ---------------------------------------------------------------
ScenarioDriver = Callable[[Harness, str], Generator[simpy.events.Event, Any, None]]


@attrs.frozen
class Scenario:
    """A named workload with migrations, run on a fresh harness for one strategy."""

    name: str
    summary: str
    nodes: int
    drive: ScenarioDriver = attrs.field(repr=False)


@attrs.frozen
class ConformanceResult:
    """One strategy on one scenario: its migration records and every violation found."""

    strategy: str
    scenario: str
    seed: int
    records: tuple[MigrationRecord, ...]
    violations: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No violation was found."""
        return not self.violations


def _until_running(h: Harness, pid: int, node: int) -> Generator[simpy.events.Event, Any, bool]:
    """Wait until ``pid`` runs on ``node`` again (False if it exits first)."""
    while not _exited(h.cluster, pid):
        if h.cluster.location_of.get(pid) == node and pid in h.cluster.node(node).threads:
            return True
        yield h.env.timeout(0.001)
    return False


def _memory_mid_run(h: Harness, strategy: str) -> Generator[simpy.events.Event, Any, None]:
    pid = h.spawn_memory(0, cpu_seconds=1.0, dirty_rate=600.0, sweep_every=0)
    yield h.env.timeout(0.1)
    yield h.migrate(pid, 1, strategy)


def _pair_both_ways(h: Harness, strategy: str) -> Generator[simpy.events.Event, Any, None]:
    a, _b = h.spawn_pair(0, 1, rounds=30)
    h.spawn_stream(1, 0, chunks=80)
    yield h.env.timeout(0.06)
    yield h.migrate(a, 2, strategy)


def _server_migrated(h: Harness, strategy: str) -> Generator[simpy.events.Event, Any, None]:
    server, _clients = h.spawn_server(0, [1, 2, 3], requests=12)
    yield h.env.timeout(0.08)
    yield h.migrate(server, 1, strategy)


def _route(
    h: Harness, pid: int, route: Sequence[int], strategy: str
) -> Generator[simpy.events.Event, Any, None]:
    """Migrate ``pid`` along ``route``, each hop as soon as the last one allows.

    A request refused because the last migration is not complete yet is asked again a
    little later; any other refusal, or the process exiting first, is a violation.
    """
    for target in route:
        while True:
            event = h.migrate(pid, target, strategy)
            while not event.triggered:
                here = h.cluster.location_of.get(pid)
                if here == target and pid in h.cluster.node(target).threads:
                    break
                yield h.env.timeout(0.001)
            if not event.triggered:
                break  # running on the target
            record = cast(MigrationRecord, event.value)
            if record.refused is None or "already migrating" not in record.refused:
                h.problems.append(
                    f"route of process {pid} stopped before node {target}: "
                    f"{record.refused or 'it exited'}"
                )
                return
            yield h.env.timeout(0.005)


def _round_trip(h: Harness, strategy: str) -> Generator[simpy.events.Event, Any, None]:
    pid = h.spawn_memory(0, cpu_seconds=2.0, dirty_rate=500.0)
    talker, _other = h.spawn_pair(0, 3, rounds=150)
    yield h.env.timeout(0.05)
    yield h.env.process(_route(h, pid, (1, 2, 0), strategy)) & h.env.process(
        _route(h, talker, (1, 2, 0), strategy)
    )


_SCENARIOS = (
    Scenario(
        "memory",
        "a process writing its pages fast is migrated mid-run",
        2,
        _memory_mid_run,
    ),
    Scenario(
        "pair",
        "one side of a two-way conversation (and a stream's receiver) is migrated",
        3,
        _pair_both_ways,
    ),
    Scenario(
        "server",
        "a request/reply server with clients on three other nodes is migrated",
        4,
        _server_migrated,
    ),
    Scenario(
        "round-trip",
        "a memory writer and a talker are migrated 0->1, 1->2 and back home 2->0",
        4,
        _round_trip,
    ),
)


def conformance_scenarios() -> list[Scenario]:
    """The scenarios every strategy must pass."""
    return list(_SCENARIOS)


def run_conformance(
    strategy: str,
    scenario: str | Scenario,
    seed: int = 0,
    *,
    profile: str = "sparc-ethernet",
    limit_s: float = 30.0,
) -> ConformanceResult:
    """Run ``scenario`` with ``strategy`` on a fresh cluster and check every invariant."""
    chosen = scenario if isinstance(scenario, Scenario) else _scenario(scenario)
    harness = Harness(boot(nodes=chosen.nodes, seed=seed, profile=profile))
    driver = harness.env.process(chosen.drive(harness, strategy))
    harness.cluster.run(until=harness.env.any_of([driver, harness.env.timeout(limit_s)]))
    violations = harness.finish(limit_s=limit_s)
    if not driver.triggered:
        violations.append(f"scenario {chosen.name} did not finish")
    elif not driver.ok:
        driver.defused = True
        violations.append(f"scenario {chosen.name} raised {driver.value!r}")
    return ConformanceResult(
        strategy=strategy,
        scenario=chosen.name,
        seed=seed,
        records=tuple(harness.records),
        violations=tuple(violations),
    )


def _scenario(name: str) -> Scenario:
    for scenario in _SCENARIOS:
        if scenario.name == name:
            return scenario
    names = ", ".join(s.name for s in _SCENARIOS)
    raise ValueError(f"unknown conformance scenario {name!r}; scenarios: {names}")

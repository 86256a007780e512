"""A migration as a message-sequence chart: who asked whom for what, and when.

A :class:`SequenceRecorder` is an :data:`~rhodos.experiment.Observer`: it turns on the
event log's :attr:`~rhodos.kernel.EventLog.messages` (every kernel message is then
logged, local ones too, with the port it goes to and the port its answer comes to) and
keeps the events of the run it observes. :meth:`SequenceRecorder.sequence` reads them,
with the run's :class:`~rhodos.migration_manager.MigrationRecord`, into a
:class:`Sequence`, which :mod:`rhodos.experiment.chart` draws:

* **lanes**: one per server of each node the migration involves (Migration, Process,
  IPC and Memory Managers, the file server) and one for the migrated process's thread;
* **arrows**: every message of the migration, from its send to its arrival, named by
  its request (a reply is paired with its request through the reply port). A
  message belongs to the migration when it is booked to the process, or is a server's
  own (no process booked: the negotiation's local questions) -- never a thread's trap,
  whose process the log does not name. Who sent and who received each is read by
  :mod:`rhodos.experiment.messages`;
* **phases**: the record's phases, each from its mark to the next;
* **states**: the process running or frozen, on the node where it is;
* **elisions**: a run of more than :data:`RUN_LIMIT` identical exchanges (the same
  request between the same lanes, with its reply: page-fault round trips, push
  batches) is drawn by its first and last exchange, and the chart says how many it
  left out.

The window runs from the migration request to its last phase, or to the Migration
Manager's last word to the destination (``migrated``) when that comes later. Times are
seconds since the request; :meth:`Sequence.to_dict` gives them in milliseconds, the
data that :mod:`rhodos.experiment.chart` writes beside each chart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from rhodos.experiment.messages import LoggedMessage, read_messages
from rhodos.experiment.timeline import Timeline

if TYPE_CHECKING:
    from rhodos.kernel import Cluster, LogEvent
    from rhodos.migration_manager import MigrationRecord

__all__ = ["RUN_LIMIT", "Arrow", "Elision", "Lane", "Sequence", "SequenceRecorder"]

#: Exchanges of one kind between two lanes drawn in full; a longer run is elided.
RUN_LIMIT = 6

#: The order of a node's lanes, left to right (the destination's are mirrored).
LANE_ORDER = ("thread", "migration", "process", "ipc", "memory", "files", "file")

#: How a lane is titled.
ROLE_TITLES = {
    "thread": "process {pid}",
    "migration": "Migration Manager",
    "process": "Process Manager",
    "ipc": "IPC Manager",
    "memory": "Memory Manager",
    "files": "File Manager",
    "file": "file server",
}


@attrs.frozen
class Lane:
    """A lifeline: one server (or the process's thread) on one node."""

    key: str
    node: int
    role: str
    title: str


@attrs.frozen
class Arrow:
    """One message, from its sender's lane to its receiver's (seconds since the request)."""

    src: str
    dst: str
    name: str
    sent: float
    #: ``None``: it never arrived (dropped, or still on its way at the end of the run).
    arrived: float | None
    reply: bool
    #: The traffic kind of a message on the network; ``local`` within a node.
    traffic: str
    bytes: int


@attrs.frozen
class Span:
    """A stretch of time: a phase of the migration (``lane`` None) or a process state."""

    name: str
    start: float
    end: float
    lane: str | None = None


@attrs.frozen
class Elision:
    """A run of identical exchanges of which only the first and the last are drawn."""

    src: str
    dst: str
    name: str
    count: int
    start: float
    end: float


@attrs.frozen
class Sequence:
    """A migration as lanes, arrows, phases, process states and elided runs."""

    title: str
    strategy: str
    pid: int
    source: int
    destination: int
    #: Simulated time of the migration request (every other time counts from it).
    origin: float
    lanes: tuple[Lane, ...]
    arrows: tuple[Arrow, ...]
    phases: tuple[Span, ...]
    states: tuple[Span, ...]
    elisions: tuple[Elision, ...]

    @property
    def end(self) -> float:
        """The last instant drawn (seconds since the request)."""
        times = [0.0, *(p.end for p in self.phases), *(s.end for s in self.states)]
        times += [a.arrived if a.arrived is not None else a.sent for a in self.arrows]
        return max(times)

    def lane(self, key: str) -> Lane:
        """The lane called ``key``."""
        return next(lane for lane in self.lanes if lane.key == key)

    def to_dict(self) -> dict[str, Any]:
        """The chart's data as plain JSON: times in milliseconds since the request."""

        def ms(seconds: float | None) -> float | None:
            return None if seconds is None else round(seconds * 1e3, 6)

        def timed(item: Any, *names: str) -> dict[str, Any]:
            out = attrs.asdict(item)
            for name in names:
                out[f"{name}_ms"] = ms(out.pop(name))
            return out

        return {
            "title": self.title,
            "strategy": self.strategy,
            "pid": self.pid,
            "source": self.source,
            "destination": self.destination,
            "requested_at_s": self.origin,
            "time": "milliseconds of simulated time since the migration request",
            "lanes": [attrs.asdict(lane) for lane in self.lanes],
            "phases": [timed(p, "start", "end") for p in self.phases],
            "states": [timed(s, "start", "end") for s in self.states],
            "arrows": [timed(a, "sent", "arrived") for a in self.arrows],
            "elisions": [timed(e, "start", "end") for e in self.elisions],
        }

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to ``path`` (indented, one key per line); returns it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n")
        return path


def _belongs(m: LoggedMessage, pid: int) -> bool:
    """The message is part of the migration of ``pid`` (see the module's docstring)."""
    first = m.request or m
    if first.src_role is None or first.dst_role is None:
        return False
    return first.account == pid or (first.account is None and first.src_role != "thread")


class SequenceRecorder:
    """Keeps the events of the run it observes (the first selected), every message logged.

    Args:
        select: which run to record, ``select(label, cluster)``; default the first.
    """

    def __init__(self, select: Callable[[str, Cluster], bool] | None = None) -> None:
        self.select = select
        self.events: list[LogEvent] = []
        self.nodes: dict[int, str] = {}
        self.label: str | None = None

    def observe(self, label: str, cluster: Cluster) -> None:
        """An Observer: log every message of ``cluster`` and keep its events."""
        if self.label is not None or (self.select is not None and not self.select(label, cluster)):
            return
        self.label = label
        self.nodes = {node.node_id: node.kind for node in cluster.all_nodes}
        cluster.log.messages = True
        self.events.extend(cluster.log)
        cluster.log.subscribe(self.events.append)

    __call__ = observe

    def sequence(self, record: MigrationRecord, title: str = "") -> Sequence:
        """The migration ``record`` of the recorded run as a :class:`Sequence`."""
        if self.label is None:
            raise ValueError("the recorder observed no run")
        return build(self.events, record, self.nodes, title)


def build(
    events: Iterable[LogEvent],
    record: MigrationRecord,
    nodes: Mapping[int, str],
    title: str = "",
) -> Sequence:
    """The :class:`Sequence` of ``record`` from its run's ``events`` (``nodes``: id -> kind)."""
    events = list(events)
    origin = record.requested_at
    pid = record.pid
    messages = read_messages(events)
    last_phase = max(at for _, at in record.phases)
    closing = [
        m.sent
        for m in messages
        if m.kind == "migrated" and m.account == pid and m.src == record.source
        and m.sent >= origin
    ]  # fmt: skip
    end = max([last_phase, *closing[:1]])
    chosen = [m for m in messages if _belongs(m, pid) and origin <= (m.request or m).sent <= end]
    drawn, elisions = _elide(chosen, pid)
    keys = {(m.src, m.src_role) for m in drawn} | {(m.dst, m.dst_role) for m in drawn}
    last = max([end, *(m.arrived for m in drawn if m.arrived is not None)])
    states = _states(events, pid, origin, last)
    keys |= {(node, "thread") for node in (record.source, record.destination)}
    lanes = _lanes(keys, record, nodes)

    def key(node: int, role: str | None) -> str:
        return f"{node}.{role}"

    arrows = tuple(
        Arrow(
            key(m.src, m.src_role),
            key(m.dst, m.dst_role),
            m.kind if m.request is None else "reply",
            m.sent - origin,
            None if m.arrived is None else m.arrived - origin,
            m.request is not None,
            m.traffic,
            m.bytes,
        )
        for m in drawn
    )
    phases = sorted(record.phases, key=lambda p: p[1])
    spans = tuple(
        Span(name, at - origin, (phases[i + 1][1] if i + 1 < len(phases) else at) - origin)
        for i, (name, at) in enumerate(phases)
    )
    return Sequence(
        title=title,
        strategy=record.strategy,
        pid=pid,
        source=record.source,
        destination=record.destination,
        origin=origin,
        lanes=lanes,
        arrows=arrows,
        phases=spans,
        states=tuple(
            Span(s.name, s.start - origin, s.end - origin, key(s.node, "thread")) for s in states
        ),
        elisions=tuple(
            Elision(key(*e[0]), key(*e[1]), e[2], e[3], e[4] - origin, e[5] - origin)
            for e in elisions
        ),
    )


Run = tuple[tuple[int, str | None], tuple[int, str | None], str, int, float, float]


def _elide(messages: list[LoggedMessage], pid: int) -> tuple[list[LoggedMessage], list[Run]]:
    """The messages to draw, and the runs left out: of each kind of exchange (a request
    between two lanes, with its reply) more than :data:`RUN_LIMIT` times, only the first
    and the last are drawn."""
    runs: dict[tuple[Any, ...], list[LoggedMessage]] = {}
    for m in messages:
        if m.request is None:
            runs.setdefault((m.src, m.src_role, m.dst, m.dst_role, m.kind), []).append(m)
    left_out: set[int] = set()
    elisions: list[Run] = []
    for (src, src_role, dst, dst_role, kind), run in runs.items():
        if len(run) <= RUN_LIMIT:
            continue
        left_out |= {m.msg for m in run[1:-1]}
        last = max(run[-1].arrived or run[-1].sent, run[-1].sent)
        elisions.append(((src, src_role), (dst, dst_role), kind, len(run), run[0].sent, last))
    drawn = [m for m in messages if (m.request or m).msg not in left_out]
    return drawn, sorted(elisions, key=lambda e: e[4])


def _states(events: list[LogEvent], pid: int, origin: float, end: float) -> list[Any]:
    """The process's states (running, frozen) on each node, cut to the window."""
    out = []
    for _, _, slices in Timeline(events).groups:
        for s in slices:
            if s.lane == f"thread pid {pid}" and s.end >= origin and s.start <= end:
                out.append(attrs.evolve(s, start=max(s.start, origin), end=min(s.end, end)))
    return sorted(out, key=lambda s: (s.start, s.node))


def _lanes(
    keys: set[tuple[int, str | None]], record: MigrationRecord, nodes: Mapping[int, str]
) -> tuple[Lane, ...]:
    """The lanes, node by node (source, destination, other compute nodes, file servers),
    each node's roles in :data:`LANE_ORDER` (the destination's mirrored)."""
    others = sorted({n for n, _ in keys} - {record.source, record.destination})
    listed = [record.source, record.destination, *others]
    order = sorted(listed, key=lambda n: (nodes.get(n) != "compute", listed.index(n)))
    lanes = []
    for node in order:
        roles = [r for r in LANE_ORDER if (node, r) in keys]
        roles += sorted(r for n, r in keys if n == node and r not in LANE_ORDER and r)
        if node == record.destination:
            roles.reverse()
        for role in roles:
            title = ROLE_TITLES.get(role, role).format(pid=record.pid)
            lanes.append(Lane(f"{node}.{role}", node, role, title))
    return tuple(lanes)

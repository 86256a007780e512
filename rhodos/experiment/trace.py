"""Timelines: runs as Chrome trace event JSON, to open in Perfetto (ui.perfetto.dev).

A :class:`TraceRecorder` is an :data:`~rhodos.experiment.Observer`: it subscribes to the
event log of each cluster it is shown and, afterwards, lays the events out as a
timeline. Times are microseconds of *simulated* time.

The layout:

* **pid**: one per node of each run, ``pid = (run + 1) * stride + node`` with ``stride``
  the first power of ten above the largest node id (100 for up to 100 nodes): the
  first run's node 3 is pid 103, the second run's node 3 is pid 203. The process name
  is ``node 3 (file-server) [eager]``: node, kind, run label.
* **tid**: one per lane of the node, named by ``thread_name`` metadata and ordered:
  ``cpu`` (kernel work: slices named ``kernel``), ``thread pid N`` (process N's states
  on this node: ``running`` and ``frozen`` slices), one lane per server (``process``,
  ``memory``, ``ipc``, ``migration``, ``file``) and ``kernel`` for its events as
  instants, then ``network`` (every remote message the node sends: a slice from send
  to arrival, named by the request kind, ``cat`` the traffic kind) and ``network in``
  (its receipt at the destination: the receiver's kernel work). Slices that would
  overlap on one lane spill to ``network #2``, ``network #3``... so every lane nests.
* **migration phases**: on the source node's ``migration`` lane, one enclosing slice
  ``migrate pid P → node D`` and one slice per phase the Migration Manager marked,
  from that phase's time to the next's (the last one has no duration), with its times
  in ``args``; their ends are the :class:`~rhodos.migration_manager.MigrationRecord`'s
  timestamps.
* **flows**: every message delivered across the network is a flow from its slice on
  the sender's ``network`` lane (``ph: "s"``) to its slice on the receiver's
  ``network in`` lane (``ph: "f"``, ``bp: "e"``); ``id`` is the message id (plus
  ``run * 10**9`` after the first run), ``cat`` the traffic kind, ``name`` the kind.

The same seed gives the same JSON, byte for byte. Several runs (``rhodos compare``) go
into ONE file, each in its own pid range, on the same time axis. The slices, instants
and flows of each run come from its :class:`~rhodos.experiment.timeline.Timeline`; this
module places them on lanes and writes the JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from rhodos.experiment.logs import plain
from rhodos.experiment.timeline import Slice, Timeline

if TYPE_CHECKING:
    from rhodos.kernel import Cluster, LogEvent

__all__ = ["TraceRecorder"]

#: Flow ids of run ``i`` are its message ids plus ``i * FLOW_ID_STRIDE``.
FLOW_ID_STRIDE = 10**9

#: Lanes in the order they are shown on each node (unknown components come after).
LANE_ORDER = (
    "cpu",
    "thread",
    "process",
    "memory",
    "ipc",
    "migration",
    "files",
    "file",
    "kernel",
    "network",
    "network in",
)


def _us(seconds: float) -> float:
    """Simulated seconds as microseconds, rounded to the nanosecond."""
    return round(seconds * 1e6, 3)


@attrs.define
class _Run:
    label: str
    nodes: list[tuple[int, str]]
    events: list[LogEvent] = attrs.field(factory=list)


def _lane_rank(lane: str) -> tuple[int, int, str]:
    """Sort key of a lane: :data:`LANE_ORDER`, the pid of a thread lane, the spill index."""
    base, _, spill = lane.partition(" #")
    number = int(spill) if spill else 0
    match = re.fullmatch(r"thread pid (\d+)", base)
    if match:
        return (LANE_ORDER.index("thread"), int(match.group(1)), "")
    if base in LANE_ORDER:
        return (LANE_ORDER.index(base), number, "")
    return (len(LANE_ORDER), number, base)


class TraceRecorder:
    """Records the runs it observes and writes them as one Chrome trace event file.

    Args:
        select: which runs to record, ``select(label, cluster)``; default all.
        limit: record at most this many runs (``None``: no limit).

    Use it as the ``observe`` of an experiment, then write it::

        recorder = TraceRecorder()
        record = run_migration(scenario, "eager", observe=recorder.observe)
        recorder.write("eager.json")

    A sweep that traces one chosen run passes ``select`` (and ``limit=1``).
    """

    def __init__(
        self, select: Callable[[str, Cluster], bool] | None = None, *, limit: int | None = None
    ) -> None:
        self.select = select
        self.limit = limit
        self._runs: list[_Run] = []

    def observe(self, label: str, cluster: Cluster) -> None:
        """An Observer: record ``cluster``'s events under ``label`` (if selected)."""
        if self.limit is not None and len(self._runs) >= self.limit:
            return
        if self.select is not None and not self.select(label, cluster):
            return
        run = _Run(label, [(n.node_id, n.kind) for n in cluster.all_nodes])
        run.events.extend(cluster.log)  # anything already kept
        cluster.log.subscribe(run.events.append)
        self._runs.append(run)

    __call__ = observe

    @property
    def labels(self) -> list[str]:
        """The labels of the runs recorded, in order."""
        return [run.label for run in self._runs]

    def stride(self) -> int:
        """The pid distance between two runs (a power of ten above every node id)."""
        largest = max((len(run.nodes) for run in self._runs), default=1)
        stride = 100
        while stride <= largest:
            stride *= 10
        return stride

    def pid(self, run: int, node: int) -> int:
        """The trace pid of ``node`` in the ``run``-th recorded run."""
        return (run + 1) * self.stride() + node

    def trace(self) -> dict[str, Any]:
        """The Chrome trace event JSON object: ``traceEvents`` and ``displayTimeUnit``."""
        meta: list[dict[str, Any]] = []
        timed: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        runs_info = []
        for index, run in enumerate(self._runs):
            layout = Timeline(run.events)
            offset = index * FLOW_ID_STRIDE
            lanes = self._place(layout)
            tids: dict[tuple[int, str], int] = {}
            for node, kind in run.nodes:
                pid = self.pid(index, node)
                meta.append(
                    _meta(pid, 0, "process_name", {"name": f"node {node} ({kind}) [{run.label}]"})
                )
                meta.append(_meta(pid, 0, "process_sort_index", {"sort_index": pid}))
                used = sorted({lane for (n, lane) in lanes if n == node}, key=_lane_rank)
                for tid, lane in enumerate(used, start=1):
                    tids[(node, lane)] = tid
                    meta.append(_meta(pid, tid, "thread_name", {"name": lane}))
                    meta.append(_meta(pid, tid, "thread_sort_index", {"sort_index": tid}))
            for (node, lane), slices in lanes.items():
                pid, tid = self.pid(index, node), tids[(node, lane)]
                for seq, s in slices:
                    ts = _us(s.start)
                    dur = max(0.0, round(_us(s.end) - ts, 3))
                    event = {
                        "name": s.name,
                        "cat": s.cat,
                        "ph": "X",
                        "ts": ts,
                        "dur": dur,
                        "pid": pid,
                        "tid": tid,
                        "args": plain(s.args),
                    }
                    timed.append(((ts, pid, tid, 0, s.depth, seq), event))
                    if s.flow is not None:
                        ph, msg = s.flow
                        flow = {
                            "name": s.name,
                            "cat": s.cat,
                            "ph": ph,
                            "id": offset + msg,
                            "ts": ts,
                            "pid": pid,
                            "tid": tid,
                        }
                        if ph == "f":
                            flow["bp"] = "e"
                        timed.append(((ts, pid, tid, 1, 0, seq), flow))
            for seq, (at, node, lane, e) in enumerate(layout.instants):
                key = (node, lane)
                if key not in tids:  # a lane with instants only
                    continue
                ts = _us(at)
                event = {
                    "name": e.event,
                    "cat": e.component,
                    "ph": "i",
                    "s": "t",
                    "ts": ts,
                    "pid": self.pid(index, node),
                    "tid": tids[key],
                    "args": plain(dict(e.fields)),
                }
                timed.append(((ts, event["pid"], event["tid"], 2, 0, seq), event))
            runs_info.append({"label": run.label, "first_pid": self.pid(index, 0)})
        timed.sort(key=lambda item: item[0])
        return {
            "traceEvents": meta + [event for _, event in timed],
            "displayTimeUnit": "ms",
            "otherData": {"time": "microseconds of simulated time", "runs": runs_info},
        }

    def _place(self, layout: Timeline) -> dict[tuple[int, str], list[tuple[int, Slice]]]:
        """Every slice on a lane where it nests: overlapping groups spill to ``lane #2``...

        Instants are placed too, so that each lane they need exists.
        """
        lanes: dict[tuple[int, str], list[tuple[int, Slice]]] = {}
        ends: dict[tuple[int, str], list[float]] = {}
        order = sorted(range(len(layout.groups)), key=lambda i: (layout.groups[i][0], i))
        seq = 0
        for i in order:
            start, end, slices = layout.groups[i]
            base = (slices[0].node, slices[0].lane)
            spills = ends.setdefault(base, [])
            for k, last in enumerate(spills):
                if last <= _us(start):
                    spills[k] = _us(end)
                    break
            else:
                k = len(spills)
                spills.append(_us(end))
            lane = base[1] if k == 0 else f"{base[1]} #{k + 1}"
            for s in slices:
                lanes.setdefault((s.node, lane), []).append((seq, s))
                seq += 1
        for _, node, lane, _ in layout.instants:
            lanes.setdefault((node, lane), [])
        return lanes

    def write(self, path: str | Path) -> Path:
        """Write the trace to ``path`` (one event per line); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        trace = self.trace()
        lines = ",\n".join(json.dumps(e, allow_nan=False) for e in trace["traceEvents"])
        rest = {k: v for k, v in trace.items() if k != "traceEvents"}
        tail = json.dumps(rest, allow_nan=False)[1:-1]
        path.write_text(f'{{"traceEvents":[\n{lines}\n],\n{tail}}}\n')
        return path


def _meta(pid: int, tid: int, what: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": what, "ph": "M", "pid": pid, "tid": tid, "args": args}

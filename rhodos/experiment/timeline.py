"""A run's timeline: its event log as slices on named lanes, instants and message flows.

:class:`Timeline` reads the events a cluster logged (see :class:`~rhodos.kernel.EventLog`)
and turns them into what a timeline viewer draws, in seconds of simulated time:

* **slices** (:class:`Slice`) on a node's lanes: ``cpu`` (kernel work), ``thread pid N``
  (``running`` and ``frozen``), ``network`` (a remote message from its send to its
  arrival, named by its kind) and ``network in`` (the receiver's kernel work), and on
  the source's ``migration`` lane one enclosing slice per migration with one slice per
  phase inside it;
* **instants**: the other events, on their component's lane;
* **flows**: each delivered message links its ``network`` slice to its ``network in``.

Slices that belong together (a migration and its phases) form one group, placed on one
lane. :mod:`rhodos.experiment.trace` lays timelines out as Chrome trace event JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from rhodos.kernel import LogEvent

__all__ = ["Slice", "Timeline"]


@attrs.define
class Slice:
    """A span of time on one lane of one node (times in simulated seconds)."""

    node: int
    lane: str
    name: str
    cat: str
    start: float
    end: float
    args: dict[str, Any]
    depth: int = 1
    flow: tuple[str, int] | None = None  # ("s" or "f", message id)


class Timeline:
    """One run's events as slices (in seconds, on named lanes), instants and flows.

    Attributes:
        groups: ``(start, end, slices)`` of every group of slices, in the order made.
        instants: ``(time, node, lane, event)`` of every event shown as an instant.
        end: the time of the last event.
    """

    def __init__(self, events: Iterable[LogEvent]) -> None:
        self.groups: list[tuple[float, float, list[Slice]]] = []
        self.instants: list[tuple[float, int, str, LogEvent]] = []
        self._sends: dict[int, LogEvent] = {}
        self._last_kernel: dict[int, tuple[float, float]] = {}
        self._running: dict[int, tuple[int, float]] = {}
        self._frozen: dict[int, tuple[int, float]] = {}
        self._migrations: dict[tuple[int, int], dict[str, Any]] = {}
        self._finished: list[dict[str, Any]] = []
        self.end = 0.0
        for event in events:
            self.end = max(self.end, event.time)
            self._take(event)
        self._close()

    def _add(self, *slices: Slice) -> None:
        self.groups.append((min(s.start for s in slices), max(s.end for s in slices), list(slices)))

    def _take(self, e: LogEvent) -> None:
        f = dict(e.fields)
        kind = (e.component, e.event)
        if kind == ("cpu", "kernel"):
            start = e.time - f["seconds"]
            self._last_kernel[e.node] = (start, e.time)
            self._add(
                Slice(e.node, "cpu", "kernel", "cpu", start, e.time, {"seconds": f["seconds"]})
            )
        elif kind == ("network", "send"):
            self._sends[f["msg"]] = e
        elif kind == ("network", "arrive"):
            self._arrive(e, f)
        elif kind == ("kernel", "drop") and f.get("msg") in self._sends:
            sent = self._sends.pop(f["msg"])
            self._add(self._message(sent, e.time, dropped_at=e.node))
            self.instants.append((e.time, e.node, "kernel", e))
        elif kind == ("kernel", "local"):
            return  # messages within a node (logged when a sequence chart asks): not drawn
        elif e.component == "migration" and "at" in f:
            self._phase(e, f)
        elif e.component == "thread":
            self._thread(e, f)
        else:
            if e.component == "process" and e.event in ("spawn", "resume"):
                self._run_state(e.node, f["pid"], e.time)
            if e.component == "migration" and e.event == "accepted" and "strategy" in f:
                current = self._migrations.get((e.node, f["pid"]))
                if current is not None:
                    current["strategy"] = f["strategy"]
            self.instants.append((e.time, e.node, e.component, e))

    # -- messages ------------------------------------------------------------------
    def _message(self, sent: LogEvent, end: float, **extra: Any) -> Slice:
        f = dict(sent.fields)
        args = {
            "msg": f["msg"],
            "kind": f["kind"],
            "to": f["dst"],
            "bytes": f["bytes"],
            "traffic": f["traffic"],
            "account": f.get("account"),
            **extra,
        }
        return Slice(sent.node, "network", f["kind"], f["traffic"], sent.time, end, args)

    def _arrive(self, e: LogEvent, f: dict[str, Any]) -> None:
        sent = self._sends.pop(f["msg"], None)
        if sent is None:
            return
        out = self._message(sent, e.time)
        out.flow = ("s", f["msg"])
        start, end = self._last_kernel.get(e.node, (e.time, e.time))
        if end != e.time:  # the receiver's kernel work ends as the message arrives
            start = e.time
        into = Slice(
            e.node,
            "network in",
            out.name,
            out.cat,
            start,
            e.time,
            {"msg": f["msg"], "kind": out.name, "from": sent.node, "bytes": out.args["bytes"]},
            flow=("f", f["msg"]),
        )
        self._add(out)
        self._add(into)

    # -- process states ------------------------------------------------------------
    def _state(self, table: dict[int, tuple[int, float]], pid: int, name: str, at: float) -> None:
        opened = table.pop(pid, None)
        if opened is not None:
            node, start = opened
            lane = f"thread pid {pid}"
            self._add(Slice(node, lane, name, "process", start, at, {"pid": pid}))

    def _run_state(self, node: int, pid: int, at: float) -> None:
        self._state(self._frozen, pid, "frozen", at)
        self._state(self._running, pid, "running", at)
        self._running[pid] = (node, at)

    def _thread(self, e: LogEvent, f: dict[str, Any]) -> None:
        pid = f["pid"]
        if e.event in ("frozen", "exit"):
            self._state(self._running, pid, "running", e.time)
            if e.event == "frozen":
                self._frozen[pid] = (e.node, e.time)
        else:
            self.instants.append((e.time, e.node, f"thread pid {pid}", e))

    # -- migrations ----------------------------------------------------------------
    def _phase(self, e: LogEvent, f: dict[str, Any]) -> None:
        key = (e.node, f["pid"])
        current = self._migrations.get(key)
        if current is None or e.event == "requested":
            if current is not None:
                self._finished.append(current)
            current = self._migrations[key] = {
                "node": e.node,
                "pid": f["pid"],
                "dest": f.get("dest"),
                "phases": [],
            }
        current["phases"].append((float(f["at"]), len(current["phases"]), e.event))

    def _migration(self, m: dict[str, Any]) -> None:
        phases = sorted(m["phases"])
        common = {"pid": m["pid"], "dest": m["dest"]}
        if "strategy" in m:
            common["strategy"] = m["strategy"]
        slices = [
            Slice(
                m["node"],
                "migration",
                f"migrate pid {m['pid']} → node {m['dest']}",
                "migration",
                phases[0][0],
                phases[-1][0],
                {**common, "phases": [name for _, _, name in phases]},
                depth=0,
            )
        ]
        for i, (at, _, name) in enumerate(phases):
            end = phases[i + 1][0] if i + 1 < len(phases) else at
            nxt = phases[i + 1][2] if i + 1 < len(phases) else None
            args = {**common, "phase": name, "at_s": at, "next": nxt, "next_at_s": end}
            slices.append(Slice(m["node"], "migration", name, "migration", at, end, args))
        self._add(*slices)

    def _close(self) -> None:
        for sent in self._sends.values():
            self._add(self._message(sent, self.end, undelivered=True))
        for table, name in ((self._running, "running"), (self._frozen, "frozen")):
            for pid in sorted(table):
                self._state(table, pid, name, self.end)
        for m in [*self._finished, *self._migrations.values()]:
            self._migration(m)

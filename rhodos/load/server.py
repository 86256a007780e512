"""The Load Manager server: load information, placement, preemptive migration, the trader.

One per node, in the shape of the other servers: a receive loop, a dispatch table from
request type to handler (its requests are in :mod:`rhodos.load.requests`), and a private
table (:mod:`~rhodos.load.table`) -- the processes living here that it knows (pid ->
birth and size), its view of the others' loads, and, on the trader's node, the
trader's offers.

What it does is decided by its :class:`~rhodos.load.settings.Settings`, one policy of
each kind (:mod:`rhodos.load.policy`); the policies act through the Load Manager (the
:class:`~rhodos.load.policy.Agent`), so every probe, report, offer and remote exec is a
kernel message and costs what the profile says.

* **An exec** (:class:`~rhodos.load.requests.Exec`) arrives from a user of this node.
  With placement at birth, if the transfer policy makes this node a sender, the
  location policy picks a node among the trader's matching offers and the exec goes
  there (:class:`~rhodos.load.requests.RemoteExec`: one request/reply carrying the
  exec's name, arguments and environment; the process is then spawned there exactly as
  a local one is). Otherwise the process is spawned here; with a preemptive selection
  the node then picks a running process to migrate.
* **A departure** may make this node a receiver: it probes for a loaded node and asks
  it for a process (:class:`~rhodos.load.requests.Pull`).
* **A migration** is a :class:`~rhodos.migration_manager.requests.Migrate` request to
  this node's Migration Manager with the configured strategy; the process's entry is
  handed over to the destination's Load Manager.

The load of a node is the length of its CPU's run queue, read from the kernel at the
instant it is reported, probed or used.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel import Handler, Reply, Request, RequestFailed
from rhodos.load.policy import Decision, Target
from rhodos.load.requests import (
    SIZES,
    Configure,
    Exec,
    Export,
    Handover,
    Import,
    LeastLoaded,
    LoadReport,
    Offer,
    Placed,
    Probe,
    Pull,
    RemoteExec,
    Resident,
    Where,
    node_list_bytes,
)
from rhodos.load.settings import Settings
from rhodos.load.table import LoadStatistics, LoadTable
from rhodos.load.trader import TraderTable
from rhodos.load.view import LoadView
from rhodos.migration_manager.requests import Migrate
from rhodos.process_manager.requests import Spawn

__all__ = ["LoadManager", "LoadStatistics"]


class LoadManager(LoadTable):
    """Shares load: placement at birth, preemptive migration, load information, the trader."""

    role = "load"

    def handlers(self) -> dict[type[Request], Handler]:
        return {
            Configure: self._configure,
            Exec: self._exec,
            RemoteExec: self._remote_exec_in,
            Probe: self._probe_in,
            LoadReport: self._report_in,
            LeastLoaded: self._least_loaded_in,
            Export: self._export_in,
            Import: self._import_in,
            Pull: self._pull_in,
            Handover: self._handover_in,
            Where: self._where_in,
        }

    # -- configuration --------------------------------------------------------------
    def _configure(self, req: Configure) -> None:
        """Run ``settings`` from now on; start their periodic work."""
        settings: Settings = req.settings
        nodes = req.nodes
        self.settings = settings
        self._rng = req.rng
        self._draws = []
        self._imported.clear()
        self.view = LoadView(nodes)
        if self.node_id == settings.trader:
            self.trader = TraderTable(nodes)
        if settings.shares:  # a node that never shares has no use for the trader
            self._export()
            self.every(settings.offer_period_s, self._export)
        if settings.idle is not None:
            self._load_average = 0.0
            self.every(settings.idle.sample_s, self._idle_tick)
        settings.information.start(self)
        period = settings.transfer.period_s
        if period is not None:
            self.every(period, self._periodic)

    # -- the trader ----------------------------------------------------------------
    def _export(self) -> None:
        """Send this node's offer to the trader (one-way)."""
        self._counts.offers_exported += 1
        node = self.node
        load = self.load
        idle = self._available() if self.settings.idle is not None else load == 0
        self._offered_idle = idle
        offer = Offer(self.node_id, node.architecture, node.frames_free, load, idle, self.now)
        node.send(self.peer(self.settings.trader), Export(offer), size_bytes=SIZES["offer"])

    def _export_in(self, req: Export) -> None:
        self.trader.record(req.offer)

    def _import_in(self, req: Import) -> Reply:
        nodes = self.trader.match(req.architecture, req.pages, idle=req.idle)
        nodes = nodes[nodes != req.exclude]
        if req.lend and nodes.size:  # lend one idle host, at random, and hold it as taken
            nodes = nodes[int(self.uniform() * nodes.size) :][:1]
            self.trader.idle[nodes[0]] = False
        return Reply(body=nodes, size_bytes=node_list_bytes(nodes.size))

    def candidates(self, architecture: str, pages: int) -> Decision:
        """The other nodes whose offers match (architecture, free memory): the trader's
        answer, kept for one offer period."""
        if self.settings.idle is not None:
            return (yield from self._select_idle(architecture, pages))
        key = (architecture, pages)
        held = self._imported.get(key)
        if held is not None and self.now - held[0] < self.settings.offer_period_s:
            return held[1]
        self._counts.imports += 1
        reply = yield self.node.call(
            self.peer(self.settings.trader), Import(architecture, pages), size_bytes=SIZES["import"]
        )
        nodes: npt.NDArray[np.int32] = reply.body
        others = nodes[nodes != self.node_id]
        self._imported[key] = (self.now, others)
        return others

    # -- load information -------------------------------------------------------------
    def _probe_in(self, req: Probe) -> Reply:
        self._counts.probes_answered += 1
        return Reply(LoadReport(self.node_id, self.load, self.now), SIZES["probe_reply"])

    def _report_in(self, req: LoadReport) -> None:
        self._counts.reports_received += 1
        self.view.update(req.node, req.load, req.at)

    def _least_loaded_in(self, req: LeastLoaded) -> Reply:
        """The least-loaded candidate, with its load and when that load was measured."""
        node = self.view.least(req.candidates)
        if node is None:
            return Reply(None, SIZES["probe_reply"])
        report = LoadReport(node, int(self.view.load[node]), float(self.view.stamp[node]))
        return Reply(report, SIZES["probe_reply"])

    # -- placement -------------------------------------------------------------------
    def _exec(self, job: Exec) -> Decision:
        """Place a newborn process: here, or on the node the policies choose."""
        self._counts.execs += 1
        settings = self.settings
        places = getattr(settings.selection, "places", None)  # optional: a name filter
        eligible = places is None or places(job.name)
        if settings.selection.at_birth and eligible and settings.transfer.sender(self.load + 1):
            try:
                others = yield from self.candidates(job.architecture, job.layout.pages)
                target = yield from settings.location.destination(self, others)
                if target is not None:
                    placed = yield from self._remote_exec(target.node, job)
                    if placed.node is not None:
                        return placed
            except RequestFailed as failed:  # a peer crashed: the process starts here
                self.log("given-up", why=str(failed))
        placed = yield from self._spawn_here(job)
        if placed.node is None:
            self._counts.refused += 1
            return placed
        preemptive = settings.shares and not settings.selection.at_birth
        if preemptive and settings.transfer.sender(self.load):
            self.background(self._send_away(job.architecture, job.layout.pages))
        return placed

    def _where_in(self, req: Where) -> Decision:
        """Where a process that must start again goes: the location policy's choice."""
        others = yield from self.candidates(req.architecture, req.pages)
        target = yield from self.settings.location.destination(self, others)
        return self.node_id if target is None else target.node

    def _remote_exec(self, dest: int, job: Exec) -> Generator[simpy.events.Event, Any, Placed]:
        reply = yield self.node.call(
            self.peer(dest), RemoteExec(job, self.node_id), size_bytes=SIZES["exec"]
        )
        placed: Placed = reply.body
        if placed.node is not None:
            self._counts.placed_remote += 1
        return placed

    def _remote_exec_in(self, req: RemoteExec) -> Generator[simpy.events.Event, Any, Reply]:
        if self.settings.idle is not None and not self._available():
            placed = Placed(req.job.pid, None, f"node {self.node_id} is no longer idle")
            return Reply(placed, SIZES["exec_reply"])
        placed = yield from self._spawn_here(req.job, req.origin)
        if placed.node is not None:
            self._counts.remote_execs_served += 1
        return Reply(placed, SIZES["exec_reply"])

    def _spawn_here(
        self, job: Exec, origin: int | None = None
    ) -> Generator[simpy.events.Event, Any, Placed]:
        """Ask this node's Process Manager to create the process (refused without memory);
        ``origin`` is the node whose user started it (``None``: this one)."""
        node = self.node
        pages = job.layout.pages
        if pages + self._pending_pages > node.frames_free:
            reason = (
                f"node {self.node_id} has {node.frames_free - self._pending_pages} free page "
                f"frames, process {job.pid} needs {pages}"
            )
            return Placed(job.pid, None, reason)
        self._pending_pages += pages
        try:
            yield node.call(
                node.role_port("process"), Spawn(job.pid, job.name, job.program, job.layout)
            )
        finally:
            self._pending_pages -= pages
        self._counts.spawned += 1
        self._adopt(Resident(job.pid, self.now, pages, self.node_id if origin is None else origin))
        self.settings.information.changed(self)
        return Placed(job.pid, self.node_id)

    def _adopt(self, resident: Resident) -> None:
        """Keep ``resident`` in the table until it exits (or leaves)."""
        pid = resident.pid
        self.residents[pid] = resident
        if resident.origin is not None and resident.origin != self.node_id:
            self.node.foreign.add(pid)  # a guest: its CPU here is harvested
        self.node.exit_event(pid).callbacks.append(lambda _: self._exited(pid))

    def _exited(self, pid: int) -> None:
        if self.residents.pop(pid, None) is None:
            return
        settings = self.settings
        settings.information.changed(self)
        if pid in self.node.foreign:
            self._release(pid)
        if settings.transfer.receiver(self.load) and not self._seeking:
            self._seeking = True
            self.background(self._seek_work())

    # -- preemptive migration --------------------------------------------------------
    def _here(self) -> list[Resident]:
        """The residents that live here now (not those still migrating in or out)."""
        here = self.node_id
        return [r for r in self.residents.values() if self.node.location_of(r.pid) == here]

    def _send_away(self, architecture: str, pages: int) -> Decision:
        """Sender side of a preemptive policy: pick a target, then a process for it."""
        others = yield from self.candidates(architecture, pages)
        target = yield from self.settings.location.destination(self, others)
        if target is not None:
            self._move(target)

    def _periodic(self) -> Decision | None:
        """The periodic check: is there a better node for one of this node's processes?"""
        if not self.residents or self.load < 2:
            return None
        return self._send_away(self.node.architecture, 0)

    def _seek_work(self) -> Decision:
        """Receiver side: find a loaded node and ask it for a process."""
        try:
            others = yield from self.candidates(self.node.architecture, 0)
            sender = yield from self.settings.transfer.find_sender(self, others)
            if sender is not None:
                self._counts.pulls_sent += 1
                pull = Pull(self.node_id, self.load, self.now)
                self.node.send(self.peer(sender.node), pull, size_bytes=SIZES["pull"])
        finally:
            self._seeking = False

    def _pull_in(self, req: Pull) -> None:
        """A receiver asks for a process: give one if this node is still loaded."""
        if self.settings.transfer.gives(self.load):
            self._counts.pulls_served += 1
            self._move(Target(req.receiver, req.load))

    def _move(self, target: Target) -> None:
        """Migrate the process the selection policy picks for ``target``, if any."""
        chosen = self.settings.selection.choose(self, self._here(), target)
        if chosen is not None:
            self.background(self._migrate(chosen, target.node))

    def _migrate(self, resident: Resident, dest: int) -> Decision:
        pid = resident.pid
        self.residents.pop(pid, None)
        self._counts.migrations_requested += 1
        self.node.send(self.peer(dest), Handover(resident), size_bytes=SIZES["handover"])
        migrate = Migrate(pid, dest, self.settings.strategy)
        reply = yield self.node.call(self.node.role_port("migration"), migrate)
        record = reply.body
        alive = not self.node.exit_event(pid).triggered
        stays = alive and self.node.location_of(pid) == self.node_id
        if record.refused is not None:
            self._counts.migrations_refused += 1
            if stays:
                self.residents.setdefault(pid, resident)
        else:
            self._counts.migrations_completed += 1
            self._counts.freeze_s += record.freeze_s
        if not stays and pid in self.node.foreign:
            self._release(pid)
        return record

    def _handover_in(self, req: Handover) -> None:
        if not self.node.exit_event(req.resident.pid).triggered:
            self._adopt(req.resident)

    # -- idle workstations ------------------------------------------------------------
    def _available(self) -> bool:
        """Whether this host may take a guest now: idle by the rule, and no guest here."""
        rule = self.settings.idle
        if rule is None or self.node.foreign:
            return False
        quiet = self.now - self.node.input_at >= rule.input_quiet_s
        return quiet and self._load_average < rule.load_below

    def _idle_tick(self) -> Decision | None:
        """Sample the owner's load, apply the rule; evict the guests if the owner is back."""
        rule = self.settings.idle
        assert rule is not None
        node = self.node
        owner_load = max(0, self.load - len(node.foreign))  # guests are not the owner's
        self._load_average = rule.decay * self._load_average + (1 - rule.decay) * owner_load
        quiet = self.now - node.input_at >= rule.input_quiet_s
        if quiet and self._load_average < rule.load_below:
            self._counts.idle_s += rule.sample_s
        if self._available() != self._offered_idle:
            self._export()  # the trader learns at once that this host is (no longer) idle
        if node.foreign and not quiet and not self._evicting:
            return self._evict()
        return None

    def _evict(self) -> Decision:
        """The owner is back: migrate every guest home, or to another idle host."""
        rule = self.settings.idle
        assert rule is not None
        self._evicting = True
        began = self.now
        try:
            guests = [r for r in self._here() if r.pid in self.node.foreign]
            if not guests:
                return
            self._counts.evictions += 1
            moves = []
            for guest in guests:
                dest = guest.origin if guest.origin is not None else self.node_id
                if rule.evict_to == "idle":
                    found = yield from self._select_idle(self.node.architecture, guest.pages)
                    if found.size:
                        dest = int(found[0])
                self._counts.evicted += 1
                moves.append(self.env.process(self._migrate(guest, dest)))
            yield self.env.all_of(moves)
            records: list[Any] = [move.value for move in moves]
            resumed = [r.resumed_at for r in records if r.refused is None]
            if resumed:  # the guests run again elsewhere: the eviction is over
                self._counts.eviction_s += max(resumed) - began
        finally:
            self._evicting = False

    def _select_idle(self, architecture: str, pages: int) -> Decision:
        """Ask the trader for one idle host that can run the process (none: empty)."""
        began = self.now
        self._counts.selects += 1
        reply = yield self.node.call(
            self.peer(self.settings.trader),
            Import(architecture, pages, idle=True, lend=True, exclude=self.node_id),
            size_bytes=SIZES["import"],
        )
        self._counts.select_s += self.now - began
        nodes: npt.NDArray[np.int32] = reply.body
        return nodes

    def _release(self, pid: int) -> None:
        """Guest ``pid`` is gone from here: give the host back to the trader if idle."""
        self.node.foreign.discard(pid)
        if self.settings.idle is not None and self._available():
            self._export()

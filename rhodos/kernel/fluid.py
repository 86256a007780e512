"""Fluid (flow-level) sharing of capacities among concurrent flows.

A *flow* moves ``amount`` units across one or more *links*; a link moves at most
``capacity`` units per second in total. Instead of simulating every packet (or every
disk block), the scheduler gives each active flow a constant *rate* between two
*changes* -- a flow starts, ends or is cancelled, or a capacity changes -- and the
simulation jumps from one change to the next. This is the flow model of SimGrid's
validated network models; the :class:`~rhodos.kernel.network.Network` (links carry
bytes per second) and the file server's disk use it.

Rates are the **max-min fair** allocation, computed by progressive filling
(water-filling): find the most constrained link -- the smallest
``spare capacity / number of flows not yet fixed`` on it -- give each of its unfixed
flows that share, subtract the share from every other link those flows cross, and
repeat until every flow has a rate. No flow can then go faster without slowing a flow
that is no faster than it; a link of capacity 0 gives its flows rate 0 (paused).

Incremental: a change can only alter the rates of the flows connected to it -- those
that share a link with it, with a flow that shares a link with it, and so on (its
*component*). Only they are booked and water-filled again; the rest of the cluster is
not looked at. A link that only single-link flows cross (a shared Ethernet segment, a
disk) needs no water-filling at all: its flows share it equally, in closed form
(:class:`~rhodos.kernel.sharing.ProcessorSharing`, virtual time, O(log n) a change).
When a flow crossing several links joins such a link, the link's flows move to the
general model, and back when the last one leaves.

Why few events: between two changes every rate is constant, so each flow's completion
time is known in closed form. The scheduler keeps them in a heap and one simpy
wake-up pending for the earliest; a change that brings the earliest completion forward
schedules a new wake-up, one that does not schedules nothing. The cost of a 1 GiB
transfer is therefore a handful of events, not one per byte, page or packet.

Floating point: a flow whose remaining amount is within ``1e-12 * amount + 1e-12``
units of zero when progress is booked is complete, and the flows a wake-up was
scheduled for always complete at it, so the simulation can never stall on a residue of
rounding. Flows completing at the same instant complete together, in start order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from itertools import count
from typing import Any, cast

import attrs
import simpy

from rhodos.kernel.sharing import Flow, Link, ProcessorSharing, negligible

__all__ = ["Flow", "FluidScheduler", "FluidStatistics", "Link"]


def _check_capacity(capacity: float) -> float:
    """Return ``capacity`` as a float, or raise if it is negative, infinite or NaN."""
    capacity = float(capacity)
    if not (math.isfinite(capacity) and capacity >= 0.0):
        raise ValueError(f"capacity must be a finite number >= 0, got {capacity!r}")
    return capacity


@attrs.frozen
class FluidStatistics:
    """A snapshot of a scheduler's counters, taken at one simulated instant.

    Attributes:
        flows_started: Flows started, zero-amount ones included.
        flows_completed: Flows whose ``done`` event was triggered.
        flows_cancelled: Flows removed by :meth:`FluidScheduler.cancel`.
        flows_active: Flows still moving (or paused) at the snapshot.
        units_moved: Units moved by all flows up to the snapshot.
        units_moved_by_link: Units that crossed each link, by link name (a copy).
        recomputations: How many changes recomputed rates (each for its component).
    """

    flows_started: int
    flows_completed: int
    flows_cancelled: int
    flows_active: int
    units_moved: float
    units_moved_by_link: dict[str, float]
    recomputations: int


class FluidScheduler:
    """Max-min fair sharing of link capacities among concurrent flows.

    Args:
        env: The simulation environment.
        name: A name for logs and error messages.

    Example:
        >>> env = simpy.Environment()
        >>> fluid = FluidScheduler(env)
        >>> wire = fluid.add_link("wire", capacity=10.0)
        >>> a, b = fluid.start(100.0, [wire]), fluid.start(100.0, [wire])
        >>> (a.rate, b.rate)
        (5.0, 5.0)
        >>> env.run()
        >>> env.now
        20.0
    """

    def __init__(self, env: simpy.Environment, name: str = "fluid") -> None:
        self.env = env
        self.name = name
        self._links: dict[str, Link] = {}
        self._order = count()
        self._general: dict[Flow, None] = {}  # the flows in the general model
        self._heap: list[tuple[float, int, Flow]] = []  # (finish time, start order, flow)
        self._wakeups: list[float] = []  # times of the pending wake-ups (a heap)
        self._flows_started = 0
        self._flows_completed = 0
        self._flows_cancelled = 0
        self._recomputations = 0
        self._units_moved = 0.0  # by the general model, booked

    # -- public API ---------------------------------------------------------------

    def add_link(self, name: str, capacity: float) -> Link:
        """Create a link of this scheduler.

        Args:
            name: Unique name of the link.
            capacity: Units per second, finite and >= 0.

        Returns:
            The new link.

        Raises:
            ValueError: If the name is taken or the capacity is invalid.
        """
        if name in self._links:
            raise ValueError(f"{self.name}: a link named {name!r} already exists")
        capacity = _check_capacity(capacity)
        link = Link(name, capacity, ProcessorSharing(self.env, capacity, self._shared_completed))
        self._links[name] = link
        return link

    def set_capacity(self, link: Link, capacity: float) -> None:
        """Change a link's capacity from now on.

        Progress up to now is booked at the old rates, then the rates are recomputed.

        Args:
            link: A link of this scheduler.
            capacity: New units per second, finite and >= 0 (0 pauses its flows).

        Raises:
            ValueError: If the link is not this scheduler's or the capacity is invalid.
        """
        self._check_link(link)
        capacity = _check_capacity(capacity)
        self._recomputations += 1
        link.capacity = capacity
        link._sharing.set_capacity(capacity)
        if link._multi:
            self._rebalance((link,))

    def start(
        self,
        amount: float,
        links: Sequence[Link],
        tag: Any = None,
        *,
        on_done: Callable[[Flow], Any] | None = None,
    ) -> Flow:
        """Start a flow of ``amount`` units across ``links``.

        Args:
            amount: Units to move, finite and >= 0; a zero-amount flow is done at once.
            links: The links the flow crosses: at least one, each once, all of this
                scheduler.
            tag: Free payload, kept on the flow for the caller.
            on_done: Called with the flow at the instant it completes (before the
                processes waiting on ``flow.done`` resume); cheaper than ``done`` for
                a caller that only needs to be told.

        Returns:
            The flow; ``flow.done`` succeeds with it when the last unit has moved.

        Raises:
            ValueError: If the amount or the links are invalid.
        """
        amount = float(amount)
        if not (math.isfinite(amount) and amount >= 0.0):
            raise ValueError(f"{self.name}: amount must be a finite number >= 0, got {amount!r}")
        path = tuple(links)
        if not path:
            raise ValueError(f"{self.name}: a flow must cross at least one link")
        for link in path:
            self._check_link(link)
        if len(path) > 1 and len(set(path)) != len(path):
            names = [link.name for link in path]
            raise ValueError(f"{self.name}: a flow crosses each link at most once, got {names}")

        now = self.env.now
        flow = Flow(amount, path, tag, now, self, next(self._order), on_done)
        self._flows_started += 1
        if amount == 0.0:
            self._flows_completed += 1
            flow._complete(now)
            return flow
        self._recomputations += 1
        if len(path) == 1 and not path[0]._multi:
            flow._sharing = path[0]._sharing
            flow._sharing.add(flow, amount)
            return flow
        if len(path) > 1:
            for link in path:
                if not link._multi and len(link._sharing):
                    self._to_general(link)
                link._multi += 1
        flow._remaining, flow._booked_at = amount, now
        self._general[flow] = None
        for link in path:
            link._flows[flow] = None
        self._rebalance(path)
        return flow

    def cancel(self, flow: Flow) -> float:
        """Remove a flow; its ``done`` event is never triggered.

        Progress up to now is booked, then the rates of the others are recomputed.
        Cancelling a flow that is no longer active (completed or already cancelled)
        changes nothing.

        Args:
            flow: A flow of this scheduler.

        Returns:
            The units the flow did not move (0 for a completed flow).

        Raises:
            ValueError: If the flow belongs to another scheduler.
        """
        if flow._owner is not self:
            raise ValueError(f"{self.name}: flow {flow!r} belongs to another scheduler")
        if flow.finished_at is not None:
            return flow.remaining
        self._recomputations += 1
        if flow._sharing is not None:
            left = flow._sharing.remove(flow)
            if flow.finished_at is not None:  # it completed at this very instant
                return 0.0
            flow._sharing = None
            flow._remaining = left
        else:
            self._book(flow, self.env.now)
            if negligible(flow._remaining, flow.amount):  # it completes at this very instant
                self._rebalance(flow.links)
                return 0.0
            self._remove([flow], completed=False)
            self._rebalance(flow.links)
        flow.cancelled = True
        flow.finished_at = self.env.now
        self._flows_cancelled += 1
        return flow._remaining

    def remaining(self, flow: Flow) -> float:
        """The units a flow still has to move at the current simulated time.

        Unlike ``flow.remaining`` (booked at the last change), this includes the
        progress made since, without booking it.

        Args:
            flow: A flow of this scheduler.

        Returns:
            Units still to move now (never negative).
        """
        if flow._sharing is not None:
            return flow._sharing.remaining(flow)
        if flow not in self._general:
            return flow._remaining
        elapsed = self.env.now - flow._booked_at
        return max(0.0, flow._remaining - flow._rate * elapsed)

    @property
    def active(self) -> tuple[Flow, ...]:
        """The flows still moving (or paused), in start order."""
        flows = list(self._general)
        for link in self._links.values():
            flows.extend(link._sharing.flows)
        return tuple(sorted(flows, key=lambda flow: flow._seq))

    @property
    def links(self) -> tuple[Link, ...]:
        """Every link of this scheduler, in creation order."""
        return tuple(self._links.values())

    def statistics(self) -> FluidStatistics:
        """Take a snapshot of the counters, progress since the last change included."""
        now = self.env.now
        units_moved = self._units_moved
        by_link = {}
        active = len(self._general)
        for link in self._links.values():
            served = link._sharing.served()
            units_moved += served
            by_link[link.name] = link._moved + served
            active += len(link._sharing)
        for flow in self._general:
            moved = min(flow._rate * (now - flow._booked_at), flow._remaining)
            if moved > 0.0:
                units_moved += moved
                for link in flow.links:
                    by_link[link.name] += moved
        return FluidStatistics(
            flows_started=self._flows_started,
            flows_completed=self._flows_completed,
            flows_cancelled=self._flows_cancelled,
            flows_active=active,
            units_moved=units_moved,
            units_moved_by_link=by_link,
            recomputations=self._recomputations,
        )

    # -- the model ------------------------------------------------------------------

    def _check_link(self, link: Link) -> None:
        """Raise unless ``link`` was made by this scheduler."""
        if self._links.get(link.name) is not link:
            raise ValueError(f"{self.name}: link {link.name!r} belongs to another scheduler")

    def _completed(self, flows: Iterable[Flow]) -> None:
        """Count and announce flows that completed now (in start order)."""
        now = self.env.now
        for flow in flows:
            self._flows_completed += 1
            flow._complete(now)

    def _shared_completed(self, flows: Iterable[Flow]) -> None:
        """Flows sharing a link in closed form completed now: its rates change."""
        self._recomputations += 1
        self._completed(flows)

    def _to_general(self, link: Link) -> None:
        """A multi-link flow joins ``link``: its closed-form flows become general flows."""
        now = self.env.now
        for flow, left in link._sharing.drain():
            flow._sharing = None
            flow._rate, flow._remaining, flow._booked_at = 0.0, left, now
            self._general[flow] = None
            link._flows[flow] = None

    def _to_sharing(self, link: Link) -> None:
        """The last multi-link flow left ``link``: its flows share it in closed form again."""
        now = self.env.now
        for flow in sorted(link._flows, key=lambda flow: flow._seq):
            self._book(flow, now)
            del self._general[flow]
            flow._rate, flow._finish_at = 0.0, math.inf
            flow._sharing = link._sharing
            link._sharing.add(flow, flow._remaining)
        link._flows.clear()

    def _remove(self, flows: Iterable[Flow], *, completed: bool) -> None:
        """Take general flows off their links (completed ones credit their residue)."""
        emptied: dict[Link, None] = {}
        for flow in flows:
            del self._general[flow]
            flow._rate, flow._finish_at = 0.0, math.inf
            if completed:
                self._units_moved += flow._remaining  # the residue of rounding
            multi = len(flow.links) > 1
            for link in flow.links:
                del link._flows[flow]
                if completed:
                    link._moved += flow._remaining
                if multi:
                    link._multi -= 1
                    if not link._multi and link._flows:
                        emptied[link] = None
        for link in emptied:
            self._to_sharing(link)

    def _book(self, flow: Flow, now: float) -> None:
        """Book a general flow's progress since its last booking."""
        elapsed = now - flow._booked_at
        flow._booked_at = now
        if elapsed > 0.0 and flow._rate > 0.0:
            moved = min(flow._rate * elapsed, flow._remaining)
            flow._remaining -= moved
            self._units_moved += moved
            for link in flow.links:
                link._moved += moved

    def _component(self, seeds: Sequence[Link]) -> list[Flow]:
        """The general flows connected to ``seeds`` through shared links, in start order."""
        if all(len(link._flows) <= 1 for link in seeds):  # the common case: alone, or none
            alone = {flow: None for link in seeds for flow in link._flows}
            if all(len(link._flows) == 1 for flow in alone for link in flow.links):
                return sorted(alone, key=lambda flow: flow._seq) if len(alone) > 1 else [*alone]
        links = list(dict.fromkeys(seeds))
        seen = set(links)
        flows: dict[Flow, None] = {}
        for link in links:  # the list grows as the search goes
            for flow in link._flows:
                if flow not in flows:
                    flows[flow] = None
                    for other in flow.links:
                        if other not in seen:
                            seen.add(other)
                            links.append(other)
        return sorted(flows, key=lambda flow: flow._seq)

    def _rebalance(self, seeds: Sequence[Link], completed: Sequence[Flow] = ()) -> None:
        """Book, complete and water-fill the component of ``seeds``; re-arm the wake-up.

        ``completed`` are flows already taken off that complete now too: every flow
        completing at this instant is announced at the end, in start order.
        """
        now = self.env.now
        flows = self._component(seeds)
        for flow in flows:
            self._book(flow, now)
        done = [flow for flow in flows if negligible(flow._remaining, flow.amount)]
        if done:
            self._remove(done, completed=True)
            flows = [flow for flow in flows if flow in self._general]
        if flows:
            _water_fill(flows)
        heap = self._heap
        for flow in flows:
            if flow._rate > 0.0:
                flow._finish_at = now + flow._remaining / flow._rate
                heapq.heappush(heap, (flow._finish_at, flow._seq, flow))
            else:
                flow._finish_at = math.inf
        if len(heap) > 2 * len(self._general) + 64:  # too many entries made stale
            self._heap = [entry for entry in heap if entry[2]._finish_at == entry[0]]
            heapq.heapify(self._heap)
        self._schedule()
        if done or completed:
            self._completed(sorted([*completed, *done], key=lambda flow: flow._seq))

    def _schedule(self) -> None:
        """Schedule a wake-up unless a pending one comes no later than the earliest end."""
        heap = self._heap
        while heap and heap[0][2]._finish_at != heap[0][0]:
            heapq.heappop(heap)  # the entry of a flow whose rate changed since, or gone
        if not heap:
            return
        when = heap[0][0]
        if self._wakeups and self._wakeups[0] <= when:
            return
        heapq.heappush(self._wakeups, when)
        self.env.timeout(max(0.0, when - self.env.now), value=when).callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        """Complete the general flows due now (the one this wake-up was for at least)."""
        heapq.heappop(self._wakeups)
        now = self.env.now
        limit = max(now, cast(float, event.value))
        heap = self._heap
        due: list[Flow] = []
        while heap:
            finish, _, flow = heap[0]
            if flow._finish_at != finish:
                heapq.heappop(heap)
                continue
            if finish > limit:
                left = flow._remaining - flow._rate * (now - flow._booked_at)
                if not negligible(left, flow.amount):
                    break
            heapq.heappop(heap)
            flow._finish_at = math.inf
            due.append(flow)
        if not due:
            self._schedule()  # the earliest end moved back since: look again
            return
        self._recomputations += 1
        seeds: dict[Link, None] = {}
        for flow in due:
            self._book(flow, now)
            seeds.update((link, None) for link in flow.links)
        self._remove(due, completed=True)
        self._rebalance(list(seeds), completed=due)


def _water_fill(flows: Sequence[Flow]) -> None:
    """Give every flow of ``flows`` (a union of components) its max-min fair rate.

    Progressive filling: each round takes the link with the smallest fair share
    ``spare / unfixed``, gives that share to its unfixed flows and takes it off the other
    links they cross. The links wait in a heap keyed by (share, first-met order), so
    ties go to the first link met and the result is deterministic; an entry made stale
    by a later round (its link's share grew) is skipped when popped.
    """
    if len(flows) == 1:  # alone: the narrowest link it crosses
        flow = flows[0]
        flow._rate = min(link.capacity for link in flow.links)
        return
    flows_on: dict[Link, list[Flow]] = {}
    for flow in flows:
        for link in flow.links:
            flows_on.setdefault(link, []).append(flow)
    order = {link: index for index, link in enumerate(flows_on)}
    spare = {link: link.capacity for link in flows_on}
    unfixed = {link: len(on) for link, on in flows_on.items()}
    heap = [(spare[link] / unfixed[link], order[link], link) for link in flows_on]
    heapq.heapify(heap)
    fixed: set[Flow] = set()
    while heap:
        share, _, bottleneck = heapq.heappop(heap)
        unfixed_here = unfixed[bottleneck]
        if unfixed_here == 0 or share != spare[bottleneck] / unfixed_here:
            continue  # stale entry
        touched: dict[Link, None] = {}
        for flow in flows_on[bottleneck]:
            if flow in fixed:
                continue
            fixed.add(flow)
            flow._rate = share
            for link in flow.links:
                spare[link] = max(0.0, spare[link] - share)
                unfixed[link] -= 1
                touched[link] = None
        for link in touched:
            if unfixed[link]:
                heapq.heappush(heap, (spare[link] / unfixed[link], order[link], link))

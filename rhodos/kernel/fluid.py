"""Fluid (flow-level) sharing of capacities among concurrent flows.

A *flow* moves ``amount`` units across one or more *links*; a link moves at most
``capacity`` units per second in total. Instead of simulating every packet (or every
CPU quantum), the scheduler gives each active flow a constant *rate* between two
*changes* — a flow starts, ends or is cancelled, or a capacity changes — and the
simulation jumps from one change to the next. This is the flow model of SimGrid's
validated network models, and the same engine serves two masters:

* the :class:`~rhodos.kernel.network.Network`, whose links carry bytes per second;
* a CPU under processor sharing: one link of capacity = CPU speed, each runnable
  burst a flow of CPU-seconds.

Rates are the **max-min fair** allocation, computed by progressive filling
(water-filling): find the most constrained link — the smallest
``spare capacity / number of flows not yet fixed`` on it — give each of its unfixed
flows that share, subtract the share from every other link those flows cross, and
repeat until every flow has a rate. No flow can then go faster without slowing a flow
that is no faster than it; a link of capacity 0 gives its flows rate 0 (paused).

Why one event per change: between two changes every rate is constant, so each flow's
progress is ``rate * elapsed`` and its completion time is known in closed form. At a
change the scheduler books the progress made since the previous change, recomputes
the rates, and schedules ONE wake-up at the earliest completion time. A simpy timeout
cannot be cancelled, so each wake-up carries a generation number and a wake-up made
stale by a later change does nothing. The cost of a 1 GiB transfer is therefore a
handful of events, not one per byte, page or packet.

Floating point: a flow whose remaining amount is within ``1e-12 * amount + 1e-12``
units of zero when progress is booked is complete, and the flows a wake-up was
scheduled for always complete at it, so completion times are exact to about 1e-12 s
and the simulation can never stall on a residue of rounding. Flows completing at the
same instant complete together, in start order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import simpy

__all__ = ["Flow", "FluidScheduler", "FluidStatistics", "Link"]

#: Relative tolerance under which a flow's remaining amount counts as zero.
_RELATIVE_EPSILON = 1e-12
#: Absolute tolerance (in units) under which a flow's remaining amount counts as zero.
_ABSOLUTE_EPSILON = 1e-12


def _check_capacity(capacity: float) -> float:
    """Return ``capacity`` as a float, or raise if it is negative, infinite or NaN."""
    capacity = float(capacity)
    if not (math.isfinite(capacity) and capacity >= 0.0):
        raise ValueError(f"capacity must be a finite number >= 0, got {capacity!r}")
    return capacity


@attrs.define(eq=False)
class Link:
    """A shared resource that moves at most ``capacity`` units per second in total.

    Change the capacity through :meth:`FluidScheduler.set_capacity`, never by
    assigning the attribute, so that progress is booked and rates recomputed.

    Attributes:
        name: Unique name within its scheduler (statistics are keyed by it).
        capacity: Units per second (bytes/s for a network link, CPU-seconds per
            second for a CPU); 0 pauses every flow crossing the link.
    """

    name: str
    capacity: float


@attrs.define(eq=False)
class Flow:
    """An amount of units moving across a set of links at a max-min fair rate.

    Flows are made by :meth:`FluidScheduler.start`; their fields are the scheduler's
    to update.

    Attributes:
        amount: Total units to move.
        links: Every link the flow crosses, in path order.
        tag: Free payload for the caller (message kind, ids, ...).
        remaining: Units still to move *as of the last change*; use
            :meth:`FluidScheduler.remaining` for the value at the current time.
        rate: Current rate in units per second (constant until the next change).
        started_at: Simulated time the flow started.
        done: Succeeds with the flow itself when ``remaining`` reaches 0; never
            triggered for a cancelled flow.
        finished_at: Simulated time the flow completed or was cancelled, or None.
        cancelled: Whether the flow was cancelled.
    """

    amount: float
    links: tuple[Link, ...]
    tag: Any
    remaining: float
    rate: float
    started_at: float
    done: simpy.Event
    _scheduler: FluidScheduler = attrs.field(repr=False)
    finished_at: float | None = None
    cancelled: bool = False

    def cancel(self) -> float:
        """Cancel this flow; shorthand for :meth:`FluidScheduler.cancel`.

        Returns:
            The units not moved.
        """
        return self._scheduler.cancel(self)


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
        recomputations: How many times the rates were recomputed.
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
        # Active flows in start order (a dict is an ordered set with O(1) removal).
        self._active: dict[Flow, None] = {}
        self._last_booked = env.now
        self._generation = 0
        self._due: tuple[Flow, ...] = ()
        self._flows_started = 0
        self._flows_completed = 0
        self._flows_cancelled = 0
        self._recomputations = 0
        self._units_moved = 0.0
        self._units_by_link: dict[Link, float] = {}

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
        link = Link(name=name, capacity=_check_capacity(capacity))
        self._links[name] = link
        self._units_by_link[link] = 0.0
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
        self._book()
        link.capacity = capacity
        self._reallocate()

    def start(self, amount: float, links: Sequence[Link], tag: Any = None) -> Flow:
        """Start a flow of ``amount`` units across ``links``.

        Args:
            amount: Units to move, finite and >= 0; a zero-amount flow is done at once.
            links: The links the flow crosses: at least one, each once, all of this
                scheduler.
            tag: Free payload, kept on the flow for the caller.

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
        if len(set(path)) != len(path):
            names = [link.name for link in path]
            raise ValueError(f"{self.name}: a flow crosses each link at most once, got {names}")

        flow = Flow(
            amount=amount,
            links=path,
            tag=tag,
            remaining=amount,
            rate=0.0,
            started_at=self.env.now,
            done=self.env.event(),
            scheduler=self,
        )
        self._flows_started += 1
        if amount == 0.0:
            flow.finished_at = self.env.now
            self._flows_completed += 1
            flow.done.succeed(flow)
            return flow
        self._book()
        self._active[flow] = None
        self._reallocate()
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
        if flow._scheduler is not self:
            raise ValueError(f"{self.name}: flow {flow!r} belongs to another scheduler")
        if flow not in self._active:
            return flow.remaining
        self._book()
        if flow in self._active:  # else it completed at this very instant
            del self._active[flow]
            flow.rate = 0.0
            flow.cancelled = True
            flow.finished_at = self.env.now
            self._flows_cancelled += 1
        self._reallocate()
        return flow.remaining

    def remaining(self, flow: Flow) -> float:
        """The units a flow still has to move at the current simulated time.

        Unlike ``flow.remaining`` (booked at the last change), this includes the
        progress made since, without booking it.

        Args:
            flow: A flow of this scheduler.

        Returns:
            Units still to move now (never negative).
        """
        if flow not in self._active:
            return flow.remaining
        return max(0.0, flow.remaining - flow.rate * (self.env.now - self._last_booked))

    @property
    def active(self) -> tuple[Flow, ...]:
        """The flows still moving (or paused), in start order."""
        return tuple(self._active)

    @property
    def links(self) -> tuple[Link, ...]:
        """Every link of this scheduler, in creation order."""
        return tuple(self._links.values())

    def statistics(self) -> FluidStatistics:
        """Take a snapshot of the counters, progress since the last change included."""
        elapsed = self.env.now - self._last_booked
        units_moved = self._units_moved
        by_link = {link.name: units for link, units in self._units_by_link.items()}
        if elapsed > 0.0:
            for flow in self._active:
                moved = min(flow.rate * elapsed, flow.remaining)
                units_moved += moved
                for link in flow.links:
                    by_link[link.name] += moved
        return FluidStatistics(
            flows_started=self._flows_started,
            flows_completed=self._flows_completed,
            flows_cancelled=self._flows_cancelled,
            flows_active=len(self._active),
            units_moved=units_moved,
            units_moved_by_link=by_link,
            recomputations=self._recomputations,
        )

    # -- the model ------------------------------------------------------------------

    def _check_link(self, link: Link) -> None:
        """Raise unless ``link`` was made by this scheduler."""
        if self._links.get(link.name) is not link:
            raise ValueError(f"{self.name}: link {link.name!r} belongs to another scheduler")

    def _book(self, due: Iterable[Flow] = ()) -> None:
        """Book the progress made since the last change and complete finished flows.

        A flow completes if its remaining amount is within the epsilon of zero, or if
        it is one of ``due`` (the flows the current wake-up was scheduled for).
        """
        now = self.env.now
        elapsed = now - self._last_booked
        self._last_booked = now
        forced = set(due)
        if elapsed <= 0.0 and not forced:
            return
        finished: list[Flow] = []
        for flow in self._active:
            if elapsed > 0.0 and flow.rate > 0.0:
                moved = min(flow.rate * elapsed, flow.remaining)
                flow.remaining -= moved
                self._credit(flow, moved)
            if flow in forced or flow.remaining <= (
                _RELATIVE_EPSILON * flow.amount + _ABSOLUTE_EPSILON
            ):
                finished.append(flow)
        for flow in finished:  # start order, as self._active is
            self._credit(flow, flow.remaining)
            flow.remaining = 0.0
            flow.rate = 0.0
            flow.finished_at = now
            del self._active[flow]
            self._flows_completed += 1
            flow.done.succeed(flow)

    def _credit(self, flow: Flow, moved: float) -> None:
        """Add ``moved`` units of ``flow`` to the totals and to each link it crosses."""
        if moved <= 0.0:
            return
        self._units_moved += moved
        for link in flow.links:
            self._units_by_link[link] += moved

    def _reallocate(self) -> None:
        """Recompute the max-min fair rates, then schedule the next wake-up."""
        self._recomputations += 1
        self._water_fill()
        self._schedule_wakeup()

    def _water_fill(self) -> None:
        """Give every active flow its max-min fair rate by progressive filling.

        Each round takes the link with the smallest fair share ``spare / unfixed``,
        gives that share to its unfixed flows and takes it off the other links they
        cross. The links wait in a heap keyed by (share, first-met order), so ties go
        to the first link met and the result is deterministic; an entry made stale by
        a later round (its link's share grew) is skipped when popped.
        """
        flows_on: dict[Link, list[Flow]] = {}
        for flow in self._active:
            for link in flow.links:
                flows_on.setdefault(link, []).append(flow)
        order = {link: index for index, link in enumerate(flows_on)}
        spare = {link: link.capacity for link in flows_on}
        unfixed = {link: len(flows) for link, flows in flows_on.items()}
        heap = [(spare[link] / unfixed[link], order[link], link) for link in flows_on]
        heapq.heapify(heap)
        fixed: set[Flow] = set()
        while heap:
            share, _, bottleneck = heapq.heappop(heap)
            count = unfixed[bottleneck]
            if count == 0 or share != spare[bottleneck] / count:
                continue  # stale entry
            touched: dict[Link, None] = {}
            for flow in flows_on[bottleneck]:
                if flow in fixed:
                    continue
                fixed.add(flow)
                flow.rate = share
                for link in flow.links:
                    spare[link] = max(0.0, spare[link] - share)
                    unfixed[link] -= 1
                    touched[link] = None
            for link in touched:
                if unfixed[link]:
                    heapq.heappush(heap, (spare[link] / unfixed[link], order[link], link))

    def _schedule_wakeup(self) -> None:
        """Schedule one wake-up at the earliest completion; older wake-ups go stale."""
        self._generation += 1
        soonest = math.inf
        first: Flow | None = None
        for flow in self._active:
            if flow.rate > 0.0:
                delay = flow.remaining / flow.rate
                if delay < soonest:
                    soonest, first = delay, flow
        if first is None:
            self._due = ()
            return
        self._due = tuple(
            flow
            for flow in self._active
            if flow is first
            or (
                flow.rate > 0.0
                and flow.remaining - flow.rate * soonest
                <= _RELATIVE_EPSILON * flow.amount + _ABSOLUTE_EPSILON
            )
        )
        wakeup = self.env.timeout(soonest, value=self._generation)
        wakeup.callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        """Complete the flows due now, unless a later change made this wake-up stale."""
        if event.value != self._generation:
            return
        self._book(self._due)
        self._reallocate()

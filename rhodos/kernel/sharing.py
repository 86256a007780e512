"""Flows, links, and processor sharing in closed form by virtual time.

A :class:`Flow` is an amount of units moving through one or more :class:`Link` s (the
network's links, a disk) or through a CPU; :mod:`rhodos.kernel.fluid` gives flows their
max-min fair rates. This module holds the special case that needs no water-filling.

When n flows share one capacity C and nothing else limits them -- the processes of a
CPU, the transfers on one shared Ethernet segment, the requests at one disk -- each
moves at C / n. Instead of updating every flow's remaining amount at each change, the
engine keeps **virtual time** V: the service every flow present since the beginning
would have received, growing at C / n per second. A flow started when virtual time was
V0 with amount a has a *virtual finish* F = V0 + a, fixed for its whole life; it still
has F - V to move, and the flows finish in the order of their F. A heap ordered by F
gives the next completion at once: real time ``now + (F_min - V) * n / C``.

A change of the set of flows (a start, an end, a cancellation) or of the capacity
advances V to now, updates n or C and is O(log n): no flow's state is touched.
A capacity of 0 (a CPU busy with kernel work, a node that is down) stops virtual time.

Wake-ups: one simpy timeout is pending for the earliest completion. A change that
brings the earliest completion forward schedules a new one; a change that pushes it
back schedules nothing -- the pending wake-up fires early, finds nothing due, and
schedules the next (simpy cannot cancel a timeout, so this is cheaper than leaving a
stale one behind each change). A wake-up that fires with no change since it was
scheduled completes its flow whatever rounding says, so the simulation never stalls on
a residue; flows within ``1e-12 * amount + 1e-12`` units (plus the rounding of V) of
their finish complete with it, in start order.

Floating point: remaining amounts are differences F - V, so they carry the rounding of
V's magnitude; V restarts from 0 each time the engine becomes idle.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any, Protocol, cast

import attrs
import simpy

__all__ = ["Flow", "Link", "ProcessorSharing"]

#: Relative tolerance under which a flow's remaining amount counts as zero.
RELATIVE_EPSILON = 1e-12
#: Absolute tolerance (in units) under which a flow's remaining amount counts as zero.
ABSOLUTE_EPSILON = 1e-12


def negligible(remaining: float, amount: float, scale: float = 0.0) -> bool:
    """Whether ``remaining`` units of a flow of ``amount`` are a residue of rounding.

    ``scale`` is the magnitude the remaining amount was computed from (virtual time),
    whose last bits are noise too.
    """
    return remaining <= RELATIVE_EPSILON * amount + ABSOLUTE_EPSILON + 8 * math.ulp(scale)


class _Owner(Protocol):
    """What a flow needs of whoever moves it: the clock, and cancellation."""

    env: simpy.Environment

    def cancel(self, flow: Flow) -> float: ...


@attrs.define(eq=False)
class Flow:
    """An amount of units moving across a set of links at a max-min fair rate.

    Flows are made by :meth:`FluidScheduler.start` (or a CPU's ``execute``); their
    state is the scheduler's to update.

    Attributes:
        amount: Total units to move.
        links: Every link the flow crosses, in path order.
        tag: Free payload for the caller (message kind, ids, ...).
        started_at: Simulated time the flow started.
        finished_at: Simulated time the flow completed or was cancelled, or None.
        cancelled: Whether the flow was cancelled.
    """

    amount: float
    links: tuple[Link, ...]
    tag: Any
    started_at: float
    _owner: _Owner = attrs.field(repr=False)
    _seq: int = attrs.field(repr=False)  # start order
    _on_done: Callable[[Flow], Any] | None = attrs.field(default=None, repr=False)
    finished_at: float | None = None
    cancelled: bool = False
    # The general model: rate, and what is left as of _booked_at; its predicted end.
    _rate: float = attrs.field(default=0.0, init=False, repr=False)
    _remaining: float = attrs.field(default=0.0, init=False, repr=False)
    _booked_at: float = attrs.field(default=0.0, init=False, repr=False)
    _finish_at: float = attrs.field(default=math.inf, init=False, repr=False)
    # Processor sharing: the engine the flow is in, and its virtual finish there.
    _sharing: ProcessorSharing | None = attrs.field(default=None, init=False, repr=False)
    _vfinish: float = attrs.field(default=0.0, init=False, repr=False)
    _done: simpy.Event | None = attrs.field(default=None, init=False, repr=False)

    @property
    def done(self) -> simpy.Event:
        """Succeeds with the flow when its last unit has moved; never for a cancelled flow."""
        if self._done is None:
            self._done = self._owner.env.event()
            if self.finished_at is not None and not self.cancelled:
                self._done.succeed(self)
        return self._done

    @property
    def rate(self) -> float:
        """Current rate in units per second (constant until the next change)."""
        return self._sharing.rate if self._sharing is not None else self._rate

    @property
    def remaining(self) -> float:
        """Units still to move as of the last change that concerned this flow.

        :meth:`FluidScheduler.remaining` gives the value at the current time.
        """
        if self._sharing is not None:
            return self._sharing.booked_remaining(self)
        return self._remaining

    def cancel(self) -> float:
        """Cancel this flow; shorthand for :meth:`FluidScheduler.cancel`.

        Returns:
            The units not moved.
        """
        return self._owner.cancel(self)

    def _complete(self, now: float) -> None:
        """Mark the flow done at ``now`` and tell whoever waits for it."""
        self._sharing = None
        self._rate = self._remaining = 0.0
        self.finished_at = now
        if self._on_done is not None:
            self._on_done(self)
        if self._done is not None:
            self._done.succeed(self)


@attrs.define(eq=False)
class Link:
    """A shared resource that moves at most ``capacity`` units per second in total.

    Change the capacity through :meth:`FluidScheduler.set_capacity`, never by
    assigning the attribute, so that progress is booked and rates recomputed.

    Attributes:
        name: Unique name within its scheduler (statistics are keyed by it).
        capacity: Units per second (bytes/s for a network link); 0 pauses every flow
            crossing the link.
    """

    name: str
    capacity: float
    # While no multi-link flow crosses the link, its flows share it in closed form here.
    _sharing: ProcessorSharing = attrs.field(repr=False)
    # Otherwise every flow crossing it is in the general model, listed here.
    _flows: dict[Flow, None] = attrs.field(factory=dict, init=False, repr=False)
    _multi: int = attrs.field(default=0, init=False, repr=False)
    _moved: float = attrs.field(default=0.0, init=False, repr=False)


class ProcessorSharing:
    """Flows sharing one capacity equally, in closed form (see the module docstring).

    Args:
        env: The simulation environment.
        capacity: Units per second, finite and >= 0.
        on_complete: Called at each completion with the flows completed at that instant,
            in start order, after they left the engine.
    """

    def __init__(
        self,
        env: simpy.Environment,
        capacity: float,
        on_complete: Callable[[list[Flow]], Any],
    ) -> None:
        self.env = env
        self._capacity = capacity
        self._on_complete = on_complete
        self._virtual = 0.0  # V, as of self._since
        self._since = env.now
        self._heap: list[tuple[float, int, Flow]] = []  # (virtual finish, start order, flow)
        self._flows: dict[Flow, None] = {}  # the flows present, in arrival order
        self._served = 0.0  # units moved up to self._since
        self._version = 0  # bumped at every change of rates or of the flow set
        self._wakeups: list[float] = []  # times of the pending wake-ups (a heap)

    # -- queries --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._flows)

    def __contains__(self, flow: object) -> bool:
        return flow in self._flows

    @property
    def capacity(self) -> float:
        """Units per second shared by the flows (0: every flow is paused)."""
        return self._capacity

    @property
    def flows(self) -> tuple[Flow, ...]:
        """The flows present, in the order they arrived."""
        return tuple(self._flows)

    @property
    def rate(self) -> float:
        """The rate of each flow now: capacity / number of flows (0 when none)."""
        count = len(self._flows)
        return self._capacity / count if count else 0.0

    def booked_remaining(self, flow: Flow) -> float:
        """What ``flow`` had left at the last change."""
        return max(0.0, flow._vfinish - self._virtual)

    def remaining(self, flow: Flow) -> float:
        """What ``flow`` has left now (without booking anything)."""
        virtual = self._virtual + (self.env.now - self._since) * self.rate
        return max(0.0, flow._vfinish - virtual)

    def served(self) -> float:
        """Units moved by every flow since the engine was made, up to now."""
        if not self._flows:
            return self._served
        return self._served + (self.env.now - self._since) * self._capacity

    # -- changes --------------------------------------------------------------------

    def add(self, flow: Flow, remaining: float) -> None:
        """Start sharing the capacity with ``flow``, which has ``remaining`` > 0 units to go."""
        self._advance()
        flow._vfinish = self._virtual + remaining
        heapq.heappush(self._heap, (flow._vfinish, flow._seq, flow))
        self._flows[flow] = None
        self._changed()

    def remove(self, flow: Flow) -> float:
        """Take ``flow`` out (cancelled); returns what it had left.

        If it reaches its finish at this very instant it completes instead (the
        completion callback sees it) and 0 is returned.
        """
        self._advance()
        if flow not in self._flows:
            self._schedule()
            return 0.0
        left = self.booked_remaining(flow)
        del self._flows[flow]  # its heap entry is dropped when it reaches the top
        if len(self._heap) > 2 * len(self._flows) + 64:  # too many entries of flows gone
            self._heap = [e for e in self._heap if e[2] in self._flows and e[2]._vfinish == e[0]]
            heapq.heapify(self._heap)
        self._changed()
        return left

    def drain(self) -> list[tuple[Flow, float]]:
        """Take every flow out at once; each with what it had left, in arrival order."""
        self._advance()
        out = [(flow, self.booked_remaining(flow)) for flow in self._flows]
        self._flows.clear()
        self._changed()
        return out

    def set_capacity(self, capacity: float) -> None:
        """Change the capacity from now on (0 pauses every flow)."""
        self._advance()
        self._capacity = capacity
        self._changed()

    # -- the model ------------------------------------------------------------------

    def _advance(self, forced: Flow | None = None) -> None:
        """Move virtual time to now; complete ``forced`` and the flows at their finish."""
        now = self.env.now
        count = len(self._flows)
        if not count:
            self._since = now
            return
        if self._capacity > 0.0 and now > self._since:
            elapsed = now - self._since
            self._virtual += elapsed * self._capacity / count
            self._served += elapsed * self._capacity
        self._since = now
        heap, flows, virtual = self._heap, self._flows, self._virtual
        due: list[Flow] = []
        while heap:
            finish, _, flow = heap[0]
            if flow not in flows or flow._vfinish != finish:
                heapq.heappop(heap)  # the entry of a flow that left before its end
                continue
            if flow is not forced and not negligible(finish - virtual, flow.amount, finish):
                break
            heapq.heappop(heap)
            del flows[flow]
            due.append(flow)
            forced = None
        if due:
            self._version += 1
            if not flows:
                self._virtual, self._heap = 0.0, []  # idle: restart virtual time from 0
            due.sort(key=lambda flow: flow._seq)
            self._on_complete(due)

    def _changed(self) -> None:
        """The flows or the capacity changed: new rates, maybe a new wake-up."""
        self._version += 1
        if not self._flows:
            self._virtual, self._heap = 0.0, []
        self._schedule()

    def _schedule(self) -> None:
        """Schedule a wake-up unless a pending one comes no later than the earliest completion."""
        flows = self._flows
        if not flows or self._capacity <= 0.0:
            return
        heap = self._heap
        while heap[0][2] not in flows or heap[0][2]._vfinish != heap[0][0]:
            heapq.heappop(heap)
        finish, _, first = heap[0]
        delay = (finish - self._virtual) * len(flows) / self._capacity
        when = self.env.now + delay
        if self._wakeups and self._wakeups[0] <= when:
            return  # the pending wake-up comes first: it will look again
        heapq.heappush(self._wakeups, when)
        wakeup = self.env.timeout(delay, value=(self._version, first))
        wakeup.callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        """Complete what is due now; schedule the next wake-up."""
        heapq.heappop(self._wakeups)
        version, first = cast(tuple[int, Flow], event.value)
        on_time = version == self._version and first in self._flows
        # Nothing changed since this wake-up was scheduled: ``first`` is done, whatever
        # the rounding of virtual time says.
        self._advance(forced=first if on_time else None)
        self._schedule()

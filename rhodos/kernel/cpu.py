"""A node's processor: processor sharing for processes, priority for the kernel.

User work is fluid: every runnable process gets an equal share of the CPU's speed, so
two CPU-bound processes each take twice as long. The sharing is computed in closed
form by virtual time (:class:`~rhodos.kernel.sharing.ProcessorSharing`): a process
starting or stopping costs O(log n), whatever the number of runnable processes.

Kernel work -- message handling, traps, state extraction -- runs one piece at a time,
first come first served, and pre-empts every process while it runs: virtual time stops
for its duration, so a node busy serving remote page faults slows its own processes,
as it did on real machines.
"""

from __future__ import annotations

from collections import deque
from itertools import count
from typing import Any

import attrs
import simpy

from rhodos.kernel.later import Later
from rhodos.kernel.log import EventLog
from rhodos.kernel.sharing import Flow, ProcessorSharing

__all__ = ["CPU", "CPUStatistics"]


@attrs.frozen
class CPUStatistics:
    """Snapshot of a CPU's accounting, in simulated seconds."""

    user_seconds: float
    kernel_seconds: float
    kernel_requests: int


class CPU:
    """Processor sharing among processes; kernel work pre-empts them, one piece at a time."""

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        speed: float,
        *,
        log: EventLog | None = None,
        node: int = -1,
    ) -> None:
        self.env = env
        self.name = name
        self.speed = speed
        self._log = log
        self._node = node
        self._up = True
        self._sharing = ProcessorSharing(env, speed, self._completed)
        self._order = count()
        self._kernel_busy = False
        #: Pieces waiting for their turn, with their seconds; the one running takes
        #: ``_kernel_current`` seconds.
        self._kernel_waiting: deque[tuple[Later, float]] = deque()
        self._kernel_current = 0.0
        self._kernel_seconds = 0.0
        self._kernel_requests = 0

    def execute(self, seconds: float, tag: Any = None) -> Flow:
        """Start ``seconds`` of user work; the flow's ``done`` event fires when it is done."""
        now = self.env.now
        flow = Flow(float(seconds), (), tag, now, self, next(self._order))
        if flow.amount <= 0.0:
            flow._complete(now)
        else:
            flow._sharing = self._sharing
            self._sharing.add(flow, flow.amount)
        return flow

    def preempt(self, flow: Flow) -> float:
        """Stop user work in progress; returns the CPU seconds it still needed.

        User work that completes at this very instant, or is already stopped, is not
        changed: it still needed what it needed then (0 for completed work).
        """
        if flow.finished_at is not None:
            return flow.remaining
        left = self._sharing.remove(flow)
        if flow.finished_at is not None:  # it completed at this very instant
            return 0.0
        flow._sharing = None
        flow._remaining = left
        flow.cancelled = True
        flow.finished_at = self.env.now
        return left

    #: A flow's ``cancel()`` pre-empts it.
    cancel = preempt

    def kernel_work(self, seconds: float, done: Later | None = None) -> simpy.Event:
        """Run ``seconds`` of kernel work, pre-empting all user work while it runs.

        Returns the event of its end: ``done`` when given (a :class:`Later` the caller
        made, so that the end of the work is also the event it waits for), else a new
        one. The CPU's own bookkeeping runs before the event's other callbacks.
        """
        if done is None:
            done = Later(self.env)
        if seconds <= 0:
            done.succeed()
            return done
        done.callbacks.insert(0, self._kernel_done)
        if self._kernel_busy:  # first come, first served
            self._kernel_waiting.append((done, seconds))
        else:
            self._kernel_busy = True
            self._sharing.set_capacity(0.0)  # user work stops: virtual time stands still
            self._kernel_current = seconds
            done.succeed_in(seconds)
        return done

    def _kernel_done(self, _: simpy.Event) -> None:
        seconds = self._kernel_current
        self._kernel_seconds += seconds
        self._kernel_requests += 1
        if self._log is not None and self._log.listened:  # the busy interval ends now
            self._log.record(self._node, "cpu", "kernel", seconds=seconds)
        if self._kernel_waiting:  # the next piece runs at once: user work stays stopped
            done, self._kernel_current = self._kernel_waiting.popleft()
            done.succeed_in(self._kernel_current)
        else:
            self._kernel_busy = False
            self._sharing.set_capacity(self.speed if self._up else 0.0)

    def set_up(self, up: bool) -> None:
        """A down CPU makes no progress on user work until it comes back."""
        self._up = up
        if not self._kernel_busy:
            self._sharing.set_capacity(self.speed if up else 0.0)

    @property
    def runnable(self) -> int:
        """Number of processes currently sharing the CPU."""
        return len(self._sharing)

    def statistics(self) -> CPUStatistics:
        """A frozen snapshot of the CPU's accounting."""
        return CPUStatistics(
            user_seconds=self._sharing.served(),
            kernel_seconds=self._kernel_seconds,
            kernel_requests=self._kernel_requests,
        )

    def _completed(self, flows: list[Flow]) -> None:
        """User work done now, in start order."""
        now = self.env.now
        for flow in flows:
            flow._complete(now)

"""A node's processor: processor sharing for processes, priority for the kernel.

User work is fluid: every runnable process gets an equal share of the CPU's speed, so
two CPU-bound processes each take twice as long (the same max-min engine as the
network, with one link). Kernel work -- message handling, traps, state extraction --
runs one piece at a time and pre-empts every process while it runs: a node busy
serving remote page faults slows its own processes, as it did on real machines.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import simpy

from rhodos.kernel.fluid import Flow, FluidScheduler
from rhodos.kernel.log import EventLog

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
        self._fluid = FluidScheduler(env, name=f"{name}.cpu")
        self._link = self._fluid.add_link(f"{name}.cpu", speed)
        self._kernel = simpy.Resource(env, capacity=1)
        self._kernel_seconds = 0.0
        self._kernel_requests = 0

    def execute(self, seconds: float, tag: Any = None) -> Flow:
        """Start ``seconds`` of user work; the flow's ``done`` event fires when it is done."""
        return self._fluid.start(seconds, (self._link,), tag)

    def preempt(self, flow: Flow) -> float:
        """Stop user work in progress; returns the CPU seconds it still needed."""
        return self._fluid.cancel(flow)

    def kernel_work(self, seconds: float) -> simpy.Process:
        """Run ``seconds`` of kernel work, pre-empting all user work while it runs."""
        return self.env.process(self._kernel_work(seconds))

    def _kernel_work(self, seconds: float) -> Generator[simpy.events.Event, Any, None]:
        if seconds <= 0:
            return
        with self._kernel.request() as turn:
            yield turn
            self._fluid.set_capacity(self._link, 0.0)
            yield self.env.timeout(seconds)
            self._kernel_seconds += seconds
            self._kernel_requests += 1
            self._fluid.set_capacity(self._link, self.speed if self._up else 0.0)
            if self._log is not None:  # the busy interval ends now (trace: the CPU lane)
                self._log.record(self._node, "cpu", "kernel", seconds=seconds)

    def set_up(self, up: bool) -> None:
        """A down CPU makes no progress on user work until it comes back."""
        self._up = up
        self._fluid.set_capacity(self._link, self.speed if up else 0.0)

    @property
    def runnable(self) -> int:
        """Number of processes currently sharing the CPU."""
        return len(self._fluid.active)

    def statistics(self) -> CPUStatistics:
        """A frozen snapshot of the CPU's accounting."""
        stats = self._fluid.statistics()
        return CPUStatistics(
            user_seconds=float(stats.units_moved),
            kernel_seconds=self._kernel_seconds,
            kernel_requests=self._kernel_requests,
        )

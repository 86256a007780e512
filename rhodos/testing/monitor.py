"""A monitor that checks, on every kernel event and every few milliseconds, that each
process is on exactly one node."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import simpy

from rhodos.kernel import Cluster, LogEvent
from rhodos.testing.checks import check_single_location, exited

__all__ = ["LocationMonitor"]


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
        while any(not exited(self.cluster, pid) for pid in self.pids):
            yield env.timeout(self.period_s)
            self.check()
        self._running = False

"""Hostile migration patterns: the driver that attacks a fuzz case's processes.

Once :func:`~rhodos.testing.population.populate` has spawned the processes of a case,
:class:`Attack` asks for migrations the way an adversary would:

* ``single``, ``both`` ends of a conversation at once, a ``swap`` of two peers' nodes,
  ``onto-peer`` (to the node of its correspondent), ``dup`` (two requests for one process
  at the same instant), a ``chain`` A -> B -> C -> A (each hop as soon as allowed),
  ``peer-mid`` (the peer a fraction of a millisecond later), ``home`` (back to where it
  was created);
* ``chase``: a second migration the moment the first one lets the process go (to a
  third node or back to the source), polled every few microseconds;
* ``aim``: a request timed to land just before a process's known exit instant;
* ``hook``: a request at a sub-millisecond offset after an internal event of the
  system -- a thread's exit or freeze, a residual dependency's end, a communication
  state's arrival, a resume, the destination letting a process go -- read from the
  event log as it happens.

Every random choice comes from the generator handed in, so a case replays exactly.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import simpy

from rhodos.kernel import LogEvent
from rhodos.migration_manager import MigrationRecord
from rhodos.testing.checks import migration_view
from rhodos.testing.harness import Harness
from rhodos.testing.population import Population

__all__ = ["HOOKED_EVENTS", "PATTERNS", "Attack"]

Gen = Generator[simpy.events.Event, Any, Any]

#: The driver's patterns, in the order their weights are drawn.
PATTERNS = (
    "single",
    "both",
    "onto-peer",
    "dup",
    "chain",
    "peer-mid",
    "home",
    "chase",
    "aim",
)

#: (component, event) of the log a ``hook`` request may follow.
HOOKED_EVENTS = frozenset(
    {
        ("thread", "exit"),
        ("thread", "frozen"),
        ("memory", "residual-end"),
        ("ipc", "install"),
        ("migration", "resumed"),
        ("migration", "residual-end"),
        ("migration", "let-go"),
        ("process", "install"),
    }
)

#: Offsets (s) after an internal event at which a ``hook`` request is asked.
HOOK_OFFSETS = (0.0, 1e-6, 1e-5, 1e-4, 5e-4)


class Attack:
    """The driver of a fuzz case: asks for migrations in hostile patterns until ``horizon``.

    Args:
        h: the harness (its processes already spawned).
        rng: every choice is drawn from it.
        strategies: the strategies to draw from (one: every request uses it).
        population: what :func:`~rhodos.testing.population.populate` spawned.
        horizon: no request is asked after this simulated instant.
        hook_rate: chance that an internal event of a watched process gets a request.
    """

    def __init__(
        self,
        h: Harness,
        rng: np.random.Generator,
        strategies: Sequence[str],
        population: Population,
        *,
        horizon: float,
        hook_rate: float,
        max_hooks: int = 40,
    ) -> None:
        self.h = h
        self.env = h.env
        self.cluster = h.cluster
        self.rng = rng
        self.strategies = list(strategies)
        self.population = population
        self.horizon = horizon
        self.hook_rate = hook_rate
        self.max_hooks = max_hooks
        self.hooks = 0
        #: (time, pattern, pid, from, to, strategy) of every request, in order.
        self.requests: list[tuple[float, str, int, int | None, int, str]] = []
        profile = self.cluster.profile
        one_way = (
            profile.network_latency_s
            + profile.wire_bytes(64) / profile.bandwidth_bytes_per_s
            + 2 * profile.message_cpu_s(64)
        )
        #: What a request takes from its arrival to the freeze on an idle machine: the
        #: negotiation there and back, and the local calls around it.
        self.freeze_lead_s = 2 * one_way + 10 * profile.local_ipc_s
        #: A generous bound of the same.
        self.lead_s = 4 * (one_way + 2 * profile.local_ipc_s)
        self.watched = set(h.pids)
        self.weights = rng.dirichlet(np.ones(len(PATTERNS)))
        self.mean_gap = float(rng.choice([0.005, 0.02, 0.05])) + profile.network_latency_s / 2
        self._awaited: dict[tuple[str, int], list[simpy.Event]] = {}

    def start(self) -> None:
        """Begin the attack (and listen to the event log for ``hook`` requests)."""
        self.cluster.log.subscribe(self._on_event)
        self.env.process(self._drive())
        for pid, at in self.population.exits.items():
            if self.rng.random() < 0.5:
                self.env.process(self._aim(pid, at))

    # -- helpers ---------------------------------------------------------------------
    def strategy(self) -> str:
        return str(self.rng.choice(self.strategies))

    def live(self) -> list[int]:
        return [
            pid
            for pid in self.h.pids
            if pid in self.cluster.location_of and not self.cluster.exit_event(pid).triggered
        ]

    def other(self, pid: int, *, besides: Sequence[int] = ()) -> int:
        here = self.cluster.location_of.get(pid, 0)
        nodes = [n for n in range(len(self.cluster.nodes)) if n != here and n not in besides]
        return int(self.rng.choice(nodes)) if nodes else (here + 1) % len(self.cluster.nodes)

    def ask(self, pattern: str, pid: int, dest: int, strategy: str | None = None) -> simpy.Event:
        strategy = strategy or self.strategy()
        self.requests.append(
            (self.env.now, pattern, pid, self.cluster.location_of.get(pid), dest, strategy)
        )
        return self.h.migrate(pid, dest, strategy)

    def may_leave(self, pid: int) -> bool:
        """``pid`` runs, and no migration of it is under way (it may migrate again)."""
        where = self.cluster.location_of.get(pid)
        if where is None or self.cluster.exit_event(pid).triggered:
            return False
        view = migration_view(self.cluster, where)
        return pid not in view.incoming and pid not in view.active

    # -- the patterns ----------------------------------------------------------------
    def _drive(self) -> Gen:
        rng = self.rng
        yield self.env.timeout(float(rng.uniform(0.0, 0.05)))
        while self.env.now < self.horizon:
            yield self.env.timeout(float(rng.exponential(self.mean_gap)))
            alive = self.live()
            if not alive:
                return
            pattern = PATTERNS[int(rng.choice(len(PATTERNS), p=self.weights))]
            yield from self._one(pattern, alive)

    def _one(self, pattern: str, alive: list[int]) -> Gen:
        rng, where = self.rng, self.cluster.location_of
        pid = int(rng.choice(alive))
        pair = self.h.pairs[int(rng.integers(0, len(self.h.pairs)))] if self.h.pairs else None
        if pattern == "single":
            self.ask(pattern, pid, self.other(pid))
        elif pattern == "both" and pair is not None:
            a, b = pair
            if a in alive and b in alive:
                if where[a] != where[b] and rng.random() < 0.5:
                    self.ask("swap", a, where[b])
                    self.ask("swap", b, where[a])
                else:
                    self.ask(pattern, a, self.other(a))
                    self.ask(pattern, b, self.other(b))
        elif pattern == "onto-peer" and pair is not None:
            a, b = pair if rng.random() < 0.5 else pair[::-1]
            if a in alive and b in alive and where[a] != where[b]:
                self.ask(pattern, a, where[b])
        elif pattern == "dup":
            self.ask(pattern, pid, self.other(pid))
            self.ask(pattern, pid, self.other(pid))
        elif pattern == "chain":
            start = where[pid]
            rest = [n for n in range(len(self.cluster.nodes)) if n != start]
            rng.shuffle(rest)
            self.env.process(self._chain(pid, [*rest[:2], start], self.strategy()))
        elif pattern == "peer-mid" and pair is not None:
            a, b = pair
            if a in alive and b in alive:
                self.ask(pattern, a, self.other(a))
                yield self.env.timeout(float(rng.uniform(0.0, 0.004)))
                if b in self.live():
                    self.ask(pattern, b, self.other(b))
        elif pattern == "home":
            if where[pid] != self.h.home[pid]:
                self.ask(pattern, pid, self.h.home[pid])
        elif pattern == "chase":
            self.env.process(self._chase(pid))
        elif pattern == "aim":
            future = [(p, t) for p, t in self.population.exits.items() if t > self.env.now]
            if future:
                target, at = future[int(rng.integers(0, len(future)))]
                self.env.process(self._aim(target, at))

    def _chain(self, pid: int, route: list[int], strategy: str) -> Gen:
        """Migrate ``pid`` along ``route``, each hop asked again until it is allowed."""
        for target in route:
            for _ in range(200):
                if self.cluster.exit_event(pid).triggered:
                    return
                request = self.ask("chain", pid, target, strategy)
                yield request | self.env.timeout(0.002)
                if not request.triggered:
                    yield request
                record: MigrationRecord | None = request.value
                if record is None or record.refused is None:
                    break
                if "already migrating" not in record.refused:
                    return
                yield self.env.timeout(float(self.rng.uniform(0.0005, 0.02)))

    def _chase(self, pid: int) -> Gen:
        """Migrate ``pid``, then again the moment the first migration lets it go: to a third
        node or back to the source.

        It waits for the source to end the residual dependency (or the destination to let
        the process go), then polls every few microseconds until a request is allowed.
        """
        source = self.cluster.location_of[pid]
        first = self.other(pid)
        request = self.ask("chase", pid, first)
        yield request | self.awaited("residual-end", pid) | self.awaited("let-go", pid)
        if request.triggered and (request.value is None or request.value.refused is not None):
            return
        patience = 0.005 + 4 * self.lead_s
        step = max(float(self.rng.choice([1e-6, 1e-5, 1e-4])), patience / 5000)
        back = self.rng.random() < 0.4
        for _ in range(int(patience / step)):
            if self.cluster.exit_event(pid).triggered:
                return
            if self.cluster.location_of.get(pid) == first and self.may_leave(pid):
                dest = source if back else self.other(pid, besides=(source,))
                self.ask("chase", pid, dest)
                return
            yield self.env.timeout(step)

    def awaited(self, event: str, pid: int) -> simpy.Event:
        """An event that fires when the log next records a migration ``event`` of ``pid``."""
        waiting = self.env.event()
        self._awaited.setdefault((event, pid), []).append(waiting)
        return waiting

    def _aim(self, pid: int, exit_at: float) -> Gen:
        """A request timed so that its freeze lands near ``pid``'s exit instant: mostly
        asked what a freeze takes on an idle machine before it (give or take a third),
        else anywhere in the few milliseconds before it."""
        if self.rng.random() < 0.7:
            at = exit_at - self.freeze_lead_s * float(self.rng.uniform(0.6, 1.1))
        else:
            at = exit_at - float(self.rng.uniform(0.0, 2 * self.lead_s + 0.004))
        if at > self.env.now:
            yield self.env.timeout(at - self.env.now)
        if pid in self.cluster.location_of and not self.cluster.exit_event(pid).triggered:
            self.ask("aim", pid, self.other(pid))

    # -- hooks on internal events ----------------------------------------------------
    def _on_event(self, event: LogEvent) -> None:
        if (event.component, event.event) not in HOOKED_EVENTS:
            return
        pid = dict(event.fields).get("pid")
        if event.component == "migration":
            for waiting in self._awaited.pop((event.event, pid), []):  # type: ignore[arg-type]
                waiting.succeed()
        if self.hooks >= self.max_hooks:
            return
        if pid not in self.watched or self.env.now > self.horizon:
            return
        if self.rng.random() >= self.hook_rate:
            return
        self.hooks += 1
        offset = HOOK_OFFSETS[int(self.rng.integers(0, len(HOOK_OFFSETS)))]
        tag = f"hook:{event.component}.{event.event}+{offset:g}"
        self.env.process(self._hooked(tag, int(pid), offset))

    def _hooked(self, tag: str, pid: int, offset: float) -> Gen:
        yield self.env.timeout(offset)
        if pid in self.cluster.location_of and not self.cluster.exit_event(pid).triggered:
            self.ask(tag, pid, self.other(pid))

"""The simulator's event throughput as a ratio to raw simpy, measured in the same run.

Raw simpy sets the ceiling (DESIGN.md, "Performance rules"): processes that do nothing
but exchange timeouts, and pairs that exchange messages through ``simpy.Store``. The
simulator's throughput is measured on each named workload, migrated once (postcopy) and
run to the end: the events simpy scheduled (its event counter, read after the run, so
counting costs nothing) over the wall-clock time of the run. Prints; asserts nothing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Generator
from typing import Any

import simpy

from rhodos.experiment import Scenario, baseline_completion, run_migration
from rhodos.kernel import Cluster
from rhodos.workload import WORKLOADS

__all__ = ["main", "raw_messages", "raw_timeouts", "rhodos_workload"]


def _events(env: simpy.Environment) -> int:
    """How many events ``env`` has scheduled (simpy numbers each one from ``_eid``)."""
    return next(env._eid)


def raw_timeouts(processes: int = 100, steps: int = 2000) -> tuple[int, float]:
    """Events and seconds: ``processes`` generators each yielding ``steps`` timeouts."""

    def ticker(env: simpy.Environment, period: float) -> Generator[simpy.Event, Any, None]:
        for _ in range(steps):
            yield env.timeout(period)

    env = simpy.Environment()
    for i in range(processes):
        env.process(ticker(env, 1.0 + (i % 7) / 10))
    started = time.perf_counter()
    env.run()
    return _events(env), time.perf_counter() - started


def raw_messages(pairs: int = 50, rounds: int = 2000) -> tuple[int, float]:
    """Events and seconds: ``pairs`` of processes ping-ponging through two Stores each."""

    def player(
        env: simpy.Environment, inbox: simpy.Store, outbox: simpy.Store, serve: bool
    ) -> Generator[simpy.Event, Any, None]:
        for i in range(rounds):
            if serve:
                yield outbox.put(i)
                yield env.timeout(0.001)
                yield inbox.get()
            else:
                message = yield inbox.get()
                yield env.timeout(0.001)
                yield outbox.put(message)

    env = simpy.Environment()
    for _ in range(pairs):
        ping, pong = simpy.Store(env), simpy.Store(env)
        env.process(player(env, pong, ping, serve=True))
        env.process(player(env, ping, pong, serve=False))
    started = time.perf_counter()
    env.run()
    return _events(env), time.perf_counter() - started


def rhodos_workload(workload: str, at_least_s: float = 0.5) -> tuple[int, float]:
    """Events and seconds: ``workload`` run without migration, then migrated (postcopy),
    again and again until ``at_least_s`` have passed (short runs measure noise)."""
    scenario = Scenario(workload=workload, memory_bytes="1MiB", cpu_seconds=2.0, migrate_at=0.5)
    clusters: list[Cluster] = []

    def keep(label: str, cluster: Cluster) -> None:
        clusters.append(cluster)

    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < at_least_s:
        baseline = baseline_completion(scenario, keep)
        run_migration(scenario, "postcopy", baseline=baseline, observe=keep)
    return sum(_events(c.env) for c in clusters), elapsed


def _best(measure: Callable[[], tuple[int, float]], repeats: int) -> tuple[int, float]:
    """The fastest of ``repeats`` measurements (the least disturbed by other work)."""
    results = [measure() for _ in range(repeats)]
    return min(results, key=lambda r: r[1] / r[0])


def main(repeats: int = 3) -> dict[str, float]:
    """Print events/s of raw simpy and of each workload, and their ratios; return the ratios."""
    events, seconds = _best(raw_timeouts, repeats)
    timeouts = events / seconds
    events, seconds = _best(raw_messages, repeats)
    messages = events / seconds
    print(f"kernel: event throughput against raw simpy, same run (best of {repeats})")
    print(f"  raw simpy, 100 processes exchanging timeouts:  {timeouts:12,.0f} events/s")
    print(f"  raw simpy, 50 pairs exchanging Store messages: {messages:12,.0f} events/s")
    print(f"  {'workload':<14} {'events/s':>12} {'/ timeouts':>11} {'/ messages':>11}")
    ratios = {}
    for name in WORKLOADS:
        events, seconds = _best(functools.partial(rhodos_workload, name), repeats)
        rate = events / seconds
        ratios[name] = rate / timeouts
        print(f"  {name:<14} {rate:>12,.0f} {rate / timeouts:>11.3f} {rate / messages:>11.3f}")
    return ratios


if __name__ == "__main__":
    main()

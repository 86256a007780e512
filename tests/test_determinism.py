"""Specification of determinism: the same seed and config give the same run, event for event."""

from __future__ import annotations

from rhodos.kernel import LogEvent
from rhodos.system import boot
from rhodos.workload import make_workload


def mixed_run(seed: int) -> list[LogEvent]:
    """The event log of a mixed workload (CPU, memory, ping-pong, client/server) on 4 nodes."""
    cluster = boot(nodes=4, seed=seed)
    make_workload("cpu-bound", processes=2, cpu_seconds=0.2).start(cluster, [0])
    make_workload("memory-writer", cpu_seconds=0.2).start(cluster, [1])
    make_workload("pingpong", rounds=5).start(cluster, [2, 3])
    make_workload("server", clients=3, requests=4).start(cluster, [3, 0, 1, 2])
    cluster.run()
    return list(cluster.log)


def test_same_seed_gives_an_identical_event_log() -> None:
    """Two runs with the same seed and config record the same events at the same times."""
    first, second = mixed_run(seed=11), mixed_run(seed=11)
    assert len(first) > 100
    assert first == second


def test_different_seed_gives_a_different_event_log() -> None:
    """Another seed changes the random think times and references, hence the log."""
    assert mixed_run(seed=11) != mixed_run(seed=12)

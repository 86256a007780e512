"""A sweep's plan: every run it makes, grouped by the scenario whose baseline they share.

:meth:`SweepConfig.plan() <rhodos.experiment.config.SweepConfig.plan>` expands a config
into a :class:`SweepPlan`; the executors run its :class:`Group` s and the results file
stores one row per :class:`Run`. These are plain values: picklable, so a process pool
or a Dask cluster can run them, and free of any reference back to the config.

Runs are numbered replication-major (every point of replication 0, then of 1, ...), and
within a replication by the scenario axes in config order, then strategy, then the
strategy's own axes; :attr:`Run.run` is that number and identifies the row everywhere.
"""

from __future__ import annotations

from typing import Any

import attrs

from rhodos.experiment.migration import Scenario

__all__ = ["Axis", "Group", "Run", "SweepPlan"]


@attrs.frozen
class Axis:
    """One axis of the product: its name (``memory_bytes``, ``precopy.max_rounds``) and values."""

    name: str
    values: tuple[Any, ...]


@attrs.frozen
class Run:
    """One run: a point of the product in one replication."""

    #: The run's number in the sweep (replication-major); the row's identity.
    run: int
    #: The point's number within a replication (the runs of a point differ by seed only).
    point: int
    replication: int
    seed: int
    strategy: str
    params: dict[str, Any]
    #: The value of every axis at this point (``None``: another strategy's parameter).
    axes: dict[str, Any]

    def describe(self) -> str:
        """``run 7 (replication 1, seed 123, strategy=precopy, memory_bytes=65536)``."""
        knobs = ", ".join(f"{k}={v}" for k, v in self.axes.items() if v is not None)
        return f"run {self.run} (replication {self.replication}, seed {self.seed}, {knobs})"


@attrs.frozen
class Group:
    """Runs that share one scenario and seed, hence one no-migration baseline."""

    scenario: Scenario
    runs: tuple[Run, ...]


@attrs.frozen
class SweepPlan:
    """Every run of a sweep, in groups."""

    #: One seed per replication.
    seeds: tuple[int, ...]
    #: Points per replication.
    points: int
    groups: tuple[Group, ...]

    @property
    def runs(self) -> tuple[Run, ...]:
        """Every run, in run order."""
        return tuple(sorted((r for g in self.groups for r in g.runs), key=lambda r: r.run))

    def __len__(self) -> int:
        return self.points * len(self.seeds)

"""The harchol-balter-downey-1997 experiment: preemptive migration by age against
placement by name on the real process trace, as migration costs grow, and then with
each migration strategy's real costs.

Harchol-Balter & Downey ("Exploiting process lifetime distributions for dynamic load
balancing", ACM TOCS 15(3), 1997) found on this trace that migrating a running process
once its age exceeds its migration cost divided by the load difference beats placing
newborn processes by name by 35-50% in mean delay at the migration costs of their
time, and that the benefit falls as migration costs grow.

Six nodes replay a 20-minute window of the trace (minutes 120-140, its hosts' own
arrivals and CPU times: the *sample*; :class:`~rhodos.load.workload.TraceReplay`) under
three policies: ``none``; ``name-list``, placement at birth on the least-loaded node of
the programs whose runs, in the *rest* of the trace (never the window replayed), lasted
over 1 s at least half the time (:func:`long_lived_names`); and ``age``, Harchol-Balter
& Downey's preemptive policy (:class:`~rhodos.load.selection.AgeBased`).

* **Part 1, migration cost as a parameter.** The kernel charges nothing
  (:func:`~rhodos.load.study.ideal_profile`) but the network, whose bandwidth is set so
  that moving a process's 256 KiB (its state included) takes exactly ``cost`` seconds,
  for ``cost`` in :data:`COSTS_S`; the age policy's estimate of the cost is then
  ``cost`` too. A remote exec's 1 KiB costs ``cost / 256``.
* **Part 2, each strategy's real costs.** The Sun-3 profile (``sun3-ethernet``) with
  every cost charged; each process's 256 KiB are dirtied at 10 pages per CPU second,
  and ``age`` migrates with each strategy in turn (its estimate of the cost is an eager
  copy's, from the profile).

:func:`lifetimes` runs it at a ``scale`` (the window's length) and returns its runs;
:func:`rows` turns them into the table's rows, :func:`plot` draws mean slowdown against
migration cost per policy, :func:`write_docs` writes both into ``docs/``.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import numpy as np

from rhodos.kernel import MachineProfile, load_profile
from rhodos.load.experiment import Row, render_rows
from rhodos.load.run import run_loadshare
from rhodos.load.study import LoadShareConfig, LoadShareResult, ideal_profile
from rhodos.load.workload import TraceReplay, read_trace

__all__ = [
    "COSTS_S",
    "POLICIES",
    "STRATEGIES",
    "Run",
    "lifetimes",
    "long_lived_names",
    "plot",
    "rows",
    "write_docs",
]

#: The trace (the shared data folder; ``RHODOS_CSD_TRACE`` names another copy).
TRACE = Path(os.environ.get("RHODOS_CSD_TRACE", "/work/shared/data/csd-trace.csv.xz"))
#: The window replayed: its first second in the trace, and its length at scale 1.
WINDOW_START_S = 120 * 60.0
WINDOW_S = 20 * 60.0
#: Each process's address space (the trace has no sizes): a Sun-3-era process.
MEMORY_BYTES = 256 * 1024
#: Part 1's migration costs, seconds.
COSTS_S = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
POLICIES = ("none", "name-list", "age")
#: Part 2's strategies.
STRATEGIES = (
    "eager",
    "eager-dirty",
    "precopy",
    "copy-on-reference",
    "flushing",
    "freeze-free",
    "postcopy",
)
HBD = "Harchol-Balter & Downey, ACM TOCS 15(3) 1997 (abstract)"


def long_lived_names(
    path: Path, window: tuple[float, float], *, over_s: float = 1.0, at_least: int = 5
) -> tuple[str, ...]:
    """The programs that ran over ``over_s`` in at least half their runs (``at_least``
    runs or more) in the trace *outside* ``window`` = (start, stop), sorted."""
    return _long_lived(str(path), path.stat().st_mtime, window, over_s, at_least)


@functools.lru_cache(maxsize=8)
def _long_lived(
    path: str, mtime: float, window: tuple[float, float], over_s: float, at_least: int
) -> tuple[str, ...]:
    runs: dict[str, list[float]] = defaultdict(list)
    start, stop = window
    for record in read_trace(path):
        if not start <= record.time_s < stop:
            runs[record.program].append(record.cpu_s)
    return tuple(
        sorted(
            name
            for name, times in runs.items()
            if len(times) >= at_least and np.mean(np.asarray(times) > over_s) >= 0.5
        )
    )


def cost_profile(cost_s: float, base: str = "sun3-ethernet") -> MachineProfile:
    """``base`` made free but for a network on which moving :data:`MEMORY_BYTES` and the
    execution state takes ``cost_s`` (0: the ideal profile itself)."""
    ideal = ideal_profile(load_profile(base))
    if cost_s == 0:
        return ideal
    size = ideal.execution_state_bytes + MEMORY_BYTES
    return attrs.evolve(
        ideal,
        name=f"{ideal.name}-cost-{cost_s:g}s",
        network_bandwidth_bps=8 * ideal.wire_bytes(size) / cost_s,
    )


@attrs.frozen
class Run:
    """One run of the experiment: which part, policy, cost or strategy, and its result."""

    part: int
    policy: str
    #: Part 1: the migration cost; part 2: NaN.
    cost_s: float
    #: Part 2: the strategy; part 1: ``eager`` (a copy that takes the cost).
    strategy: str
    result: LoadShareResult


def lifetimes(
    scale: float = 1.0,
    *,
    costs: Sequence[float] = COSTS_S,
    strategies: Sequence[str] = STRATEGIES,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[Run]:
    """Run both parts on a window of ``scale`` times 20 minutes; every run, in order."""
    tell = progress or (lambda _: None)
    span = WINDOW_S * scale
    window = (WINDOW_START_S, WINDOW_START_S + span)
    names = long_lived_names(TRACE, window)
    replay = TraceReplay(str(TRACE), start_s=WINDOW_START_S, span_s=span)
    base = LoadShareConfig(
        nodes=6,
        replay=replay,
        duration_s=replay.duration_s,
        warmup_s=0.0,
        memory_bytes=MEMORY_BYTES,
        names=names,
        seed=seed,
    )
    runs: list[Run] = []

    def run(part: int, policy: str, cost: float, strategy: str, **changes: object) -> None:
        tell(f"part {part}: {policy}, cost {cost:g} s, {strategy}")
        config = attrs.evolve(base, policy=policy, strategy=strategy, **changes)  # type: ignore[arg-type]
        runs.append(Run(part, policy, cost, strategy, run_loadshare(config)))

    for cost in costs:
        for policy in POLICIES:
            if policy == "none" and cost != costs[0]:
                continue  # nothing moves: the cost changes nothing
            run(1, policy, cost, "eager", profile=cost_profile(cost), migration_cost="model")
    real = {"profile": "sun3-ethernet", "migration_cost": "model", "dirty_rate": 10.0}
    run(2, "none", float("nan"), "eager", **real)
    run(2, "name-list", float("nan"), "eager", **real)
    for strategy in strategies:
        run(2, "age", float("nan"), strategy, **real)
    return runs


def rows(runs: Sequence[Run]) -> list[Row]:
    """The table: each run's mean slowdown, mean delay and fraction migrated, then the
    paper's claims checked."""
    out = []
    for r in runs:
        where = f"cost {r.cost_s:g} s" if r.part == 1 else f"Sun-3 costs, {r.strategy}"
        res = r.result
        load = res.replications[0].load
        measured: list[tuple[str, float, str]] = [
            ("mean slowdown", res.mean_slowdown, ""),
            ("mean delay", res.mean_delay_s, "s"),
            ("fraction migrated", res.frac_migrated, ""),
        ]
        if load.migrations_completed:  # what a migration really froze its process for
            freeze = load.freeze_s / load.migrations_completed
            measured.append(("mean freeze of a migration", freeze, "s"))
        lost = sum(rep.refused + rep.unfinished for rep in res.replications)
        if lost:  # not measured: no memory where they arrived, or still running at the end
            measured.append(("processes refused (no memory) or unfinished", lost, ""))
        for what, value, unit in measured:
            out.append(
                Row(f"{r.policy}, {where}: {what}", value, None, unit, None, None, True, "shown")
            )
    part1 = {(r.policy, r.cost_s): r.result for r in runs if r.part == 1}
    costs = sorted({c for _, c in part1})
    if costs and ("age", costs[0]) in part1 and ("name-list", costs[0]) in part1:
        low = [c for c in costs if c <= 0.3]
        delay = {key: res.mean_delay_s for key, res in part1.items()}
        none = delay[("none", costs[0])]
        out.append(
            Row(
                "age beats name-list in mean delay at every cost up to 0.3 s",
                None, None, "", None, None,
                all(delay[("age", c)] < delay[("name-list", c)] for c in low),
                HBD,
            )
        )  # fmt: skip
        gains = [1 - delay[("age", c)] / delay[("name-list", c)] for c in low]
        out.append(
            Row(
                "age's cut in mean delay against name-list, least over costs <= 0.3 s, %",
                100 * min(gains), None, "%", None, None, True,
                f"shown beside 35-50% at the costs of the time; {HBD}",
            )
        )  # fmt: skip
        out.append(
            Row(
                f"age's benefit over no sharing falls as migration cost grows "
                f"({costs[0]:g} s vs {costs[-1]:g} s)",
                None, None, "", None, None,
                none - delay[("age", costs[0])] > none - delay[("age", costs[-1])],
                HBD,
            )
        )  # fmt: skip
    return out


def plot(runs: Sequence[Run], path: Path) -> Path:
    """Mean slowdown against migration cost per policy (part 1), with part 2's strategies
    as points at their mean freeze time; PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    part1 = [r for r in runs if r.part == 1]
    costs = sorted({r.cost_s for r in part1})
    shown = [max(c, 0.03) for c in costs]  # cost 0 drawn at the left edge of a log axis
    for policy, style in zip(POLICIES, ("k--", "C0-o", "C3-s"), strict=True):
        values = {r.cost_s: r.result.mean_slowdown for r in part1 if r.policy == policy}
        flat = values.get(costs[0], float("nan"))  # no sharing: the same at every cost
        ys = [values.get(c, flat) for c in costs]
        ax.plot(shown, ys, style, label=policy)
    for r in runs:
        if r.part == 2 and r.policy == "age":
            freeze = r.result.replications[0].load.freeze_s
            moved = max(1, r.result.replications[0].load.migrations_completed)
            ax.plot(max(freeze / moved, 0.03), r.result.mean_slowdown, "C2^")
            ax.annotate(r.strategy, (max(freeze / moved, 0.03), r.result.mean_slowdown), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("migration cost, s (cost 0 at the left edge; triangles: age with each "
                  "strategy on Sun-3, at its mean freeze)", fontsize=8)  # fmt: skip
    ax.set_ylabel("mean slowdown")
    ax.set_title("Harchol-Balter & Downey's trace, 6 hosts, minutes 120-140")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_docs(runs: Sequence[Run], docs: Path) -> None:
    """Write the table (``docs/harchol-balter-downey.txt``) and the plot
    (``docs/images/hbd-slowdown.png``)."""
    (docs / "harchol-balter-downey.txt").write_text(render_rows(rows(runs)))
    plot(runs, docs / "images" / "hbd-slowdown.png")

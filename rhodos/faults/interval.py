"""The checkpoint-interval experiment: how often should a long job be checkpointed?

A job of ``work_s`` CPU-seconds runs on a three-node cluster whose compute nodes fail
at random (exponential times to failure of mean ``mttf_s``, repaired after ``mttr_s``)
and is checkpointed every ``interval`` seconds (full checkpoints of its address space to
the file server; its program image is its first). Each crash costs the work done since
the last checkpoint, the time to detect the crash and the restart; each checkpoint
costs the time the job is frozen while its pages are written. The **overhead** of an
interval is the job's completion time over its work, minus one; the experiment measures
it over a grid of intervals, each over several seeds, and compares the best interval
with the first-order optimum of Young (1974), sqrt(2 C M), and Daly's (2006)
higher-order one, where C is the measured cost of one checkpoint and M the MTTF.

Run it with ``python -m rhodos.faults.interval`` (it writes the plot and the table of
``docs/fault-tolerance.md``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

from rhodos.faults.injector import FaultInjector
from rhodos.faults.plan import FaultPlan, RandomFailures
from rhodos.kernel import Compute, Exit
from rhodos.system import boot, spawn
from rhodos.workload import ProgramContext, ProgramGenerator

__all__ = ["IntervalPoint", "daly", "measure_checkpoint_cost", "run_interval", "young"]


def young(cost_s: float, mttf_s: float) -> float:
    """Young's optimum checkpoint interval, sqrt(2 C M)."""
    return math.sqrt(2 * cost_s * mttf_s)


def daly(cost_s: float, mttf_s: float) -> float:
    """Daly's higher-order optimum (FGCS 2006), for C < 2M; M beyond."""
    if cost_s >= 2 * mttf_s:
        return mttf_s
    x = cost_s / (2 * mttf_s)
    return math.sqrt(2 * cost_s * mttf_s) * (1 + math.sqrt(x) / 3 + x / 9) - cost_s


@attrs.frozen
class IntervalPoint:
    """One interval, measured over several seeds (means)."""

    interval_s: float
    overhead: float
    overhead_sd: float
    work_lost_s: float
    checkpoints: float
    restarts: float
    runs: int


@attrs.frozen
class LongJob:
    """Computes ``cpu_seconds`` in bursts of ``burst_s``, in ``memory_bytes`` of memory."""

    name: str = "long-job"
    memory_bytes: int = 256 * 1024
    cpu_seconds: float = 1000.0
    burst_s: float = 10.0

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        left = self.cpu_seconds
        while left > 0:
            yield Compute(min(self.burst_s, left))
            left -= self.burst_s
        yield Exit(0)


def _job(work_s: float, memory_bytes: int) -> LongJob:
    return LongJob(memory_bytes=memory_bytes, cpu_seconds=work_s)


def measure_checkpoint_cost(memory_bytes: int, *, seed: int = 0) -> float:
    """How long one full checkpoint freezes the job (simulated seconds), measured."""
    cluster = boot(nodes=3, seed=seed)
    injector = FaultInjector(cluster, FaultPlan(checkpoint_interval_s=1.0, until_s=3.0))
    pid, _ = spawn(cluster, _job(10.0, memory_bytes), 0)
    cluster.run(until=3.0)
    freezes = cluster.log.select("suspend", component="process")
    resumes = cluster.log.select("resume", component="process")
    assert injector.checkpoints and freezes and resumes
    began = freezes[0].time
    ended = min(e.time for e in resumes if e.time >= began and dict(e.fields)["pid"] == pid)
    return ended - began


def run_interval(
    interval_s: float,
    *,
    work_s: float,
    mttf_s: float,
    mttr_s: float,
    memory_bytes: int,
    seed: int,
) -> tuple[float, float, int, int]:
    """One run: (overhead, work lost, checkpoints, restarts)."""
    cluster = boot(nodes=3, seed=seed, keep_log=False)
    horizon = 50 * work_s
    injector = FaultInjector(
        cluster,
        FaultPlan(
            random=RandomFailures(mttf_s, mttr_s),
            checkpoint_interval_s=interval_s,
            until_s=horizon,
        ),
    )
    pid, _ = spawn(cluster, _job(work_s, memory_bytes), 0)
    done = cluster.exit_event(pid)
    ended: list[float] = []
    done.callbacks.append(lambda _: ended.append(cluster.now))
    while not done.triggered and cluster.now < horizon:
        cluster.run(until=min(horizon, cluster.now + work_s))
    finished = ended[0] if ended else cluster.now
    journal = injector.journal
    return (
        finished / work_s - 1.0,
        journal.work_lost_s,
        len(injector.checkpoints),
        sum(journal.restarts.values()),
    )


def sweep(
    intervals: Sequence[float],
    *,
    work_s: float = 1000.0,
    mttf_s: float = 200.0,
    mttr_s: float = 20.0,
    memory_bytes: int = 256 * 1024,
    seeds: Sequence[int] = range(8),
) -> list[IntervalPoint]:
    """Every interval over every seed."""
    points = []
    for interval in intervals:
        rows = np.array(
            [
                run_interval(
                    interval,
                    work_s=work_s,
                    mttf_s=mttf_s,
                    mttr_s=mttr_s,
                    memory_bytes=memory_bytes,
                    seed=seed,
                )
                for seed in seeds
            ]
        )
        points.append(
            IntervalPoint(
                interval_s=float(interval),
                overhead=float(rows[:, 0].mean()),
                overhead_sd=float(rows[:, 0].std(ddof=1)) if len(rows) > 1 else 0.0,
                work_lost_s=float(rows[:, 1].mean()),
                checkpoints=float(rows[:, 2].mean()),
                restarts=float(rows[:, 3].mean()),
                runs=len(rows),
            )
        )
    return points


def plot(points: list[IntervalPoint], cost_s: float, mttf_s: float, path: Path) -> None:
    """Overhead against the interval, Young's and Daly's optima marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [p.interval_s for p in points]
    y = [100 * p.overhead for p in points]
    err = [100 * p.overhead_sd / math.sqrt(p.runs) for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label="measured (mean ± s.e.)")
    optima = ((young(cost_s, mttf_s), "Young", "--"), (daly(cost_s, mttf_s), "Daly", ":"))
    for value, name, style in optima:
        ax.axvline(value, linestyle=style, color="gray", label=f"{name}'s optimum, {value:.1f} s")
    ax.set_xscale("log")
    ax.set_xlabel("checkpoint interval (s)")
    ax.set_ylabel("overhead: completion time / work - 1 (%)")
    ax.set_title(f"checkpoint interval, MTTF {mttf_s:g} s, checkpoint cost {cost_s:.3g} s")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: The markers between which docs/fault-tolerance.md holds the experiment's table.
BEGIN = "<!-- checkpoint interval: generated by `python -m rhodos.faults.interval`; do not edit -->"
END = "<!-- end of checkpoint interval -->"
#: The experiment's settings, as the docs show it.
SETTINGS = {"work_s": 500.0, "mttf_s": 100.0, "mttr_s": 10.0, "memory_bytes": 256 * 1024}
INTERVALS = (2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0)
SEEDS = range(6)


def render(points: list[IntervalPoint], cost_s: float) -> str:
    """The table of the docs: every interval, and the optima."""
    mttf = SETTINGS["mttf_s"]
    best = min(points, key=lambda p: p.overhead)
    lines = [
        BEGIN,
        "",
        f"Job of {SETTINGS['work_s']:g} CPU-seconds in {SETTINGS['memory_bytes'] // 1024} KiB, "
        f"MTTF {mttf:g} s, MTTR {SETTINGS['mttr_s']:g} s per node, three compute nodes, "
        f"{len(SEEDS)} seeds per interval; measured checkpoint cost C = {cost_s:.3f} s.",
        "",
        "| interval s | overhead % (mean ± s.e.) | work lost s | checkpoints | restarts |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in points:
        se = 100 * p.overhead_sd / math.sqrt(p.runs)
        lines.append(
            f"| {p.interval_s:g} | {100 * p.overhead:.1f} ± {se:.1f} | {p.work_lost_s:.1f} "
            f"| {p.checkpoints:.1f} | {p.restarts:.1f} |"
        )
    lines += [
        "",
        f"Best measured interval: {best.interval_s:g} s. Young's sqrt(2CM) = "
        f"{young(cost_s, mttf):.1f} s; Daly's = {daly(cost_s, mttf):.1f} s.",
        "",
        "![overhead against the checkpoint interval](images/checkpoint-interval.png)",
        "",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - the generator of the docs
    from rhodos.faults.matrix import update

    cost = measure_checkpoint_cost(int(SETTINGS["memory_bytes"]))
    found = sweep(
        INTERVALS,
        work_s=SETTINGS["work_s"],
        mttf_s=SETTINGS["mttf_s"],
        mttr_s=SETTINGS["mttr_s"],
        memory_bytes=int(SETTINGS["memory_bytes"]),
        seeds=SEEDS,
    )
    plot(found, cost, SETTINGS["mttf_s"], Path("docs/images/checkpoint-interval.png"))
    changed = update("docs/fault-tolerance.md", render(found, cost), begin=BEGIN, end=END)
    print("docs/fault-tolerance.md:", "updated" if changed else "already current")

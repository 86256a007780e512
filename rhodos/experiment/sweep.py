"""Running a sweep: every run of its plan, appended to the results file as it ends.

:func:`run_sweep` takes a validated :class:`~rhodos.experiment.config.SweepConfig`,
expands it into its :class:`~rhodos.experiment.plan.SweepPlan`, runs the groups not yet
in ``results.csv`` on an executor (here, a local process pool or Dask; see
:mod:`rhodos.experiment.executor`), appends each group's rows as they finish, records
the session in ``manifest.json`` and writes the summary (mean and 95% confidence
interval per point and metric) to ``summary.csv``. A killed sweep resumes where it
stopped (``resume=True``): the rows are identical wherever and in whatever order they ran.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from rhodos.experiment.config import SweepConfig
from rhodos.experiment.executor import Executor, make_executor, run_group, run_groups
from rhodos.experiment.interrupts import deferred
from rhodos.experiment.manifest import SweepManifest
from rhodos.experiment.migration import Observer
from rhodos.experiment.plan import Group, SweepPlan
from rhodos.experiment.results import ResultsFile, folder_lock, write_parquet, write_summary
from rhodos.experiment.stats import summarize
from rhodos.plugins import loaded_plugins

__all__ = ["SweepConfig", "SweepResult", "run_sweep"]


def _chunks(groups: Sequence[Group], workers: int) -> list[tuple[Group, ...]]:
    """Groups in chunks: about 16 per worker (so the last ones balance the load), at most
    8 groups each (so results stream and a kill loses little)."""
    size = max(1, min(8, len(groups) // (16 * max(1, workers))))
    return [tuple(groups[i : i + size]) for i in range(0, len(groups), size)]


# -- running a sweep ---------------------------------------------------------------------
@attrs.frozen
class SweepResult:
    """What a call of :func:`run_sweep` did."""

    out: Path
    total: int
    #: Runs already in the results file when this call started (``--resume``).
    skipped: int
    #: Runs this call ran and wrote.
    ran: int
    wall_s: float
    executor: str
    files: tuple[Path, ...]


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    executor: Executor | None = None,
    resume: bool = False,
    trace_run: int | None = None,
    observe: Observer | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run every run of ``config`` not yet in ``out/results.csv``; append each as it ends.

    Args:
        config: the validated sweep.
        out: the results folder (``results.csv``, ``manifest.json``, ``summary.csv``).
        executor: where the runs execute (default: a local process pool, one worker
            per core); it is closed at the end only when created here.
        resume: continue the sweep already in ``out`` (refused when its config differs,
            but for more replications, which extend it); without it, a folder that
            holds results is refused.
        trace_run: the run to observe: it runs in this process with ``observe``
            (its baseline too), so ``observe`` may be any callable; its row is written
            unless it is already there.
        observe: the :data:`Observer` of ``trace_run``.
        progress: called with (runs done, runs in the sweep) as rows are written.

    Raises:
        SweepConfigError: the config cannot run (before anything runs).
        RunFailed: a run raised; the rows written so far stay, ``resume`` goes on.

    A script may call it at its top level: the pool's workers do not re-run the script
    (unless it registers strategies or workloads of its own, which the workers then need:
    such a script needs the usual ``if __name__ == "__main__":`` guard).
    """
    plan = config.plan()
    if (trace_run is None) != (observe is None):
        raise ValueError("trace_run and observe go together: the run to trace and its observer")
    if trace_run is not None and not 0 <= trace_run < len(plan):
        raise ValueError(f"trace_run {trace_run} is not a run of this sweep (0..{len(plan) - 1})")
    folder = Path(out)
    results = ResultsFile(folder / "results.csv")
    manifest = SweepManifest(folder / "manifest.json")
    owned = executor is None
    executor = executor or make_executor()
    try:
        _refuse_to_overwrite(results, resume)
        workers = executor.workers  # connects to a cluster: fails before anything is written
        with folder_lock(folder):
            _refuse_to_overwrite(results, resume)
            if resume:
                manifest.check_same(config.data)
            done = results.finished() if resume else set()
            manifest.begin(config, plan, executor.describe(), done=len(done), fresh=not resume)
            ran, wall = _execute(
                plan, results, manifest, executor, workers, done, trace_run, observe, progress
            )
            files = [results.path, manifest.path]
            summary = summarize(results.rows(), [a.name for a in config.all_axes])
            files.append(write_summary(folder / "summary.csv", summary))
            parquet = write_parquet(results.path)
            if parquet is not None:
                files.append(parquet)
    finally:
        if owned:
            executor.close()
    return SweepResult(
        out=folder,
        total=len(plan),
        skipped=len(done),
        ran=ran,
        wall_s=wall,
        executor=executor.describe(),
        files=tuple(files),
    )


def _refuse_to_overwrite(results: ResultsFile, resume: bool) -> None:
    if results.exists() and not resume:
        raise ValueError(
            f"{results.path.parent} already holds results: pass --resume to finish that "
            "sweep, or choose another --out"
        )


def _execute(
    plan: SweepPlan,
    results: ResultsFile,
    manifest: SweepManifest,
    executor: Executor,
    workers: int,
    done: set[int],
    trace_run: int | None,
    observe: Observer | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, float]:
    """Run what is not ``done``, appending rows as they come; (runs written, wall s)."""
    pending = [
        Group(g.scenario, runs)
        for g in plan.groups
        if (runs := tuple(r for r in g.runs if r.run not in done and r.run != trace_run))
    ]
    started = time.perf_counter()
    count = len(done)
    status = "failed"

    def write(rows: list[dict[str, Any]]) -> None:
        nonlocal count
        with deferred():  # a Ctrl-C waits until the rows are whole on disk, and counted
            results.append(rows)
            count += len(rows)
        if progress:
            progress(count, len(plan))

    if progress:
        progress(count, len(plan))
    try:
        # The workers load every plugin file loaded here (--plugin, the config's plugins).
        task = functools.partial(run_groups, plugins=loaded_plugins())
        stream = executor.map_unordered(task, _chunks(pending, workers))
        if trace_run is not None:  # here, while the workers run the rest
            traced = next(g for g in plan.groups if any(r.run == trace_run for r in g.runs))
            solo = Group(traced.scenario, tuple(r for r in traced.runs if r.run == trace_run))
            rows = run_group(solo, observe)
            if trace_run not in done:
                write(rows)
        for rows in stream:
            write(rows)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        wall = time.perf_counter() - started
        try:
            with deferred(reraise=status == "complete"):  # the session's end is recorded
                manifest.end(status, ran=count - len(done), wall_s=wall)
        except OSError:
            if status == "complete":
                raise
            # Else the error that stopped the session is the one to report; the next
            # session marks this one "died".
    return count - len(done), wall

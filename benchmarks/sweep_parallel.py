"""Parallel efficiency of a sweep: 200 small runs on one worker and on two.

The sweep (4 strategies x 2 memory sizes x 25 replications of a 2 s process) runs
serially in this process (T1), then on a local pool of two workers (T2); the parallel
efficiency is T1 / (2 T2), the target at least 0.85 on two cores. The machine's own
ceiling is a trivially parallel CPU burn measured in the same repeat, its serial half
right beside T1 and its parallel half right beside T2, so that each pair sees the same
background load: on a machine busy with other work, two processes do not get two cores,
and the ceiling says so. The efficiency of a sweep cannot exceed the ceiling of the
machine it ran on; a repeat in which it does was disturbed (its T1 slowed, or its
ceiling's burn) and is left out of the median and listed. When every repeat was
disturbed the efficiency is reported as None.

"warm" measurements start a new pool each time but reuse the forkserver (which imports
the simulator once per Python process); "cold" ones run in a fresh interpreter, as
`rhodos sweep` does, and pay the forkserver's start too (not the interpreter's).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from typing import Any

from rhodos.experiment.executor import Executor, PoolExecutor, SerialExecutor, available_cores
from rhodos.experiment.sweep import SweepConfig, run_sweep

__all__ = ["CONFIG", "machine_ceiling", "main", "sweep_seconds"]

#: 4 x 2 x 25 = 200 runs of about 20 ms each.
CONFIG: dict[str, Any] = {
    "sweep": {
        "name": "bench-200",
        "seed": 1,
        "replications": 25,
        "strategy": ["eager", "precopy", "postcopy", "copy-on-reference"],
        "memory_bytes": ["256KiB", "1MiB"],
        "cpu_seconds": 2.0,
        "migrate_at": 0.5,
    }
}


def sweep_seconds(workers: int) -> float:
    """Wall-clock seconds of the whole sweep on ``workers`` (1: serially, in this process)."""
    config = SweepConfig.from_dict(CONFIG)
    executor: Executor = SerialExecutor() if workers == 1 else PoolExecutor(workers)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        try:
            run_sweep(config, out, executor=executor)
        finally:
            executor.close()
        return time.perf_counter() - started


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def burn_serial(tasks: int = 16, size: int = 1_000_000) -> float:
    """Seconds of ``tasks`` CPU burns in this process: the ceiling's serial half."""
    started = time.perf_counter()
    for _ in range(tasks):
        _burn(size)
    return time.perf_counter() - started


def burn_parallel(workers: int = 2, tasks: int = 16, size: int = 1_000_000) -> float:
    """Seconds of the same burns on a warm pool of ``workers``: the ceiling's parallel half."""
    with PoolExecutor(workers) as pool:
        list(pool.map_unordered(_burn, [1] * workers))  # start the workers
        started = time.perf_counter()
        list(pool.map_unordered(_burn, [size] * tasks))
        return time.perf_counter() - started


def machine_ceiling(workers: int = 2, tasks: int = 16, size: int = 1_000_000) -> float:
    """Parallel efficiency of a pure CPU burn on ``workers`` processes (warm pool)."""
    serial = burn_serial(tasks, size)
    return serial / (workers * burn_parallel(workers, tasks, size))


def _cold(workers: int) -> float:
    """``sweep_seconds(workers)`` in a fresh interpreter."""
    code = f"from benchmarks.sweep_parallel import sweep_seconds; print(sweep_seconds({workers}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(repeats: int = 3, workers: int = 2) -> dict[str, Any]:
    """Print runs/s at 1 and ``workers`` workers and the parallel efficiency; return them.

    Each repeat measures, in this order, the ceiling's serial burn, T1, T``workers`` and
    the ceiling's parallel burn: each half of the ceiling beside the sweep it bounds.
    """
    runs = len(SweepConfig.from_dict(CONFIG).plan())
    cores = available_cores()
    print(f"sweep: {runs} runs at 1 and {workers} workers on {cores} cores (median of {repeats})")
    if cores < workers:
        print(f"  only {cores} core(s): the efficiency below cannot reach 1")
    list(PoolExecutor(workers).map_unordered(_burn, [1]))  # start the forkserver once
    measured = []
    for _ in range(repeats):
        serial = burn_serial()
        t1, tn = sweep_seconds(1), sweep_seconds(workers)
        ceiling = serial / (workers * burn_parallel(workers))
        measured.append((t1 / (workers * tn), t1, tn, ceiling))
    kept = [m for m in measured if m[0] <= m[3]]
    disturbed = [m for m in measured if m[0] > m[3]]
    each = ", ".join(f"{m[0]:.3f} (ceiling {m[3]:.3f})" for m in measured)
    print(f"    each repeat: efficiency {each}")
    if disturbed:
        print(f"    {len(disturbed)} repeat(s) above their own ceiling: disturbed, left out")
    summary: dict[str, Any] = {"runs": runs, "repeats": repeats, "disturbed": len(disturbed)}
    if kept:
        # The median repeat: a burst of other work inflates a repeat as often as it deflates it.
        efficiency, t1, tn, ceiling = sorted(kept)[(len(kept) - 1) // 2]  # lower median
        print(f"  1 worker (serial):   T1 = {t1:6.2f} s  {runs / t1:6.1f} runs/s")
        print(f"  {workers} workers (pool):   T{workers} = {tn:6.2f} s  {runs / tn:6.1f} runs/s")
        print(
            f"  parallel efficiency T1 / ({workers} T{workers}) = {efficiency:.3f}"
            "  (target >= 0.85)"
        )
        print(f"  machine ceiling (CPU burn on {workers} processes, same repeat): {ceiling:.3f}")
        print(f"  efficiency / ceiling = {efficiency / ceiling:.3f}")
        summary.update(
            {"t1_s": t1, f"t{workers}_s": tn, "efficiency": efficiency, "machine_ceiling": ceiling}
        )
    else:
        print(
            "  every repeat was disturbed: no efficiency reported; run again on a quieter machine"
        )
        summary.update({"efficiency": None, "machine_ceiling": None})
    cold_serial = burn_serial()
    cold_t1, cold_tn = _cold(1), _cold(workers)
    cold_ceiling = cold_serial / (workers * burn_parallel(workers))
    cold = cold_t1 / (workers * cold_tn)
    summary["efficiency_cold"] = cold if cold <= cold_ceiling else None
    summary["machine_ceiling_cold"] = cold_ceiling
    print(
        f"  cold start (fresh interpreter, forkserver start included): {cold:.3f}"
        f" (ceiling {cold_ceiling:.3f}{', disturbed' if cold > cold_ceiling else ''})"
    )
    print(
        "  "
        + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()})
    )
    return summary


if __name__ == "__main__":
    main()

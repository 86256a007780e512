"""Migrating big address spaces: one 1 GiB process per strategy, and k at once.

``migrate_1gib``: a 1 GiB memory writer on a switched ``modern-10gbe`` cluster is
migrated at 0.5 s with each registered strategy; ``wall_s`` (and ``cpu_s``) is the time
from boot to the migration's record, which is complete when the source holds nothing
the process needs (a postcopy's push included): the median of interleaved repeats.
``extra_rss_mib`` is the peak resident memory above the start, measured once per
strategy in a fresh interpreter (in this process, memory freed by earlier rows would
be reused and hide part of it).

``concurrent_migrations``: k idle processes of 1 GiB each on node 0 of a
``modern-10gbe`` cluster whose two nodes share one 10 Gb/s segment are all migrated to
node 1 with ``precopy`` at once. Each repeat runs in a fresh interpreter; ``wall_s`` is
from boot to the last record, ``peak_rss_mib`` the interpreter's whole peak resident
memory (comparable to a C++ simulator's). SimGrid's figures for the same k come from
its VM live-migration plugin (``simgrid_migrations.cpp``, built when SimGrid is
installed; see :func:`simgrid_run`); otherwise they are null with the reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import simpy

from benchmarks.measure import Stopwatch, interleaved, median, raw_pingpong
from rhodos.kernel import Exit, Sleep, load_profile
from rhodos.migration_manager import registered
from rhodos.system import boot, migrate, spawn
from rhodos.workload import Computer, ProgramContext, ProgramGenerator, ReferenceModel

__all__ = [
    "Idle",
    "concurrent",
    "main_concurrent",
    "main_migrate",
    "migrate_one",
    "simgrid_driver",
    "simgrid_run",
]

GIB = 1 << 30
#: From this many concurrent migrations a row takes minutes: measured once.
BIG = 1000
HERE = Path(__file__).resolve().parent


@attrs.frozen
class Idle:
    """A process that only sleeps: nothing runs, nothing is dirtied while it migrates."""

    name: str = "idle"
    memory_bytes: int = GIB
    sleep_s: float = 1000.0

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield Sleep(self.sleep_s)
        yield Exit(0)


def migrate_one(strategy: str) -> dict[str, Any]:
    """Boot, spawn a 1 GiB memory writer, migrate it at 0.5 s; time and extra memory."""
    writer = Computer(
        name="memory-writer",
        cpu_seconds=2.0,
        memory_bytes=GIB,
        refs=ReferenceModel(working_set=0.5, dirty_rate=20.0, refs_per_s=80.0),
    )
    with Stopwatch() as watch:
        cluster = boot(nodes=2, profile="modern-10gbe", seed=0)
        pid, _ = spawn(cluster, writer, 0)
        cluster.run(until=0.5)
        done = migrate(cluster, pid, 1, strategy)
        cluster.run(until=done)
        record = done.value
    if not record.ok:
        raise RuntimeError(f"{strategy}: the 1 GiB migration was refused: {record.refused}")
    return {"wall_s": watch.wall_s, "cpu_s": watch.cpu_s, "extra_rss_mib": watch.extra_rss_mib}


def concurrent(k: int) -> dict[str, Any]:
    """k precopy migrations of idle 1 GiB processes over one shared 10 Gb/s segment."""
    base = load_profile("modern-10gbe")
    profile = attrs.evolve(base, memory_bytes=max(base.memory_bytes, (k + 1) * GIB))
    with Stopwatch() as watch:
        cluster = boot(nodes=2, profile=profile, topology="shared", seed=0)
        pids = [spawn(cluster, Idle(), 0)[0] for _ in range(k)]
        cluster.run(until=0.01)
        migrations = [migrate(cluster, pid, 1, "precopy") for pid in pids]
        cluster.run(until=simpy.AllOf(cluster.env, migrations))
    refused = [m.value.refused for m in migrations if not m.value.ok]
    if refused:
        raise RuntimeError(f"{len(refused)} of {k} migrations were refused: {refused[0]}")
    return {
        "wall_s": watch.wall_s,
        "cpu_s": watch.cpu_s,
        "peak_rss_mib": watch.peak_rss_mib,
        "simulated_s": max(m.value.total_s for m in migrations),  # the last one's
    }


def _warm_up() -> None:
    """Import and run what the first measurement would otherwise load (lazy imports)."""
    cluster = boot(nodes=2, profile="modern-10gbe", seed=0)
    pid, _ = spawn(cluster, Idle(memory_bytes=1 << 20), 0)
    cluster.run(until=0.01)
    done = migrate(cluster, pid, 1, "eager")
    cluster.run(until=done)


def in_fresh_interpreter(function: str, argument: Any) -> dict[str, Any]:
    """Run ``benchmarks.migration.<function>(argument)`` in a new Python; its result."""
    code = (
        "import json, sys\n"
        "from benchmarks import migration\n"
        "migration._warm_up()\n"
        f"print(json.dumps(migration.{function}({argument!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{function}({argument!r}) failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def simgrid_driver() -> tuple[Path | None, str | None]:
    """The k-VM SimGrid driver (``simgrid_migrations.cpp``), built on first use; or why not.

    SimGrid comes from Debian's ``libsimgrid-dev``, which ``make simgrid`` installs to
    build the cross-check's one-VM driver; this driver uses the same library.
    """
    binary = HERE / "build" / "simgrid_migrations"
    source = HERE / "simgrid_migrations.cpp"
    shared = HERE.parent / "experiments" / "simgrid-crosscheck" / "platform.hpp"
    newest = max(path.stat().st_mtime for path in (source, shared))
    if binary.exists() and binary.stat().st_mtime >= newest:
        return binary, None
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "simgrid"], capture_output=True, text=True
    )
    if flags.returncode != 0 and not Path("/usr/include/simgrid/s4u.hpp").exists():
        return None, "SimGrid is not installed (make simgrid installs Debian's libsimgrid-dev)"
    binary.parent.mkdir(exist_ok=True)
    command = ["c++", "-std=c++17", "-O2", str(source), "-o", str(binary)]
    command += flags.stdout.split() if flags.returncode == 0 else ["-lsimgrid"]
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        return None, f"building {source.name} failed: {built.stderr.strip()[-300:]}"
    return binary, None


def simgrid_run(k: int) -> dict[str, Any]:
    """SimGrid's VM live-migration plugin on the same k migrations: wall time and memory.

    Idle VMs of 1 GiB, one shared 10 Gb/s link with the profile's 5 us latency, all
    migrations requested at once; the program's whole wall time and peak resident
    memory. Without SimGrid the figures are None and ``simgrid_reason`` says why.
    """
    driver, reason = simgrid_driver()
    if driver is None:
        return {"simgrid_wall_s": None, "simgrid_peak_rss_mib": None, "simgrid_reason": reason}
    command = [
        str(driver),
        f"--vms={k}",
        f"--ram-bytes={GIB}",
        "--bandwidth-bps=1e10",
        "--latency-s=5e-06",
        "--migrate-at=0.01",
        "--log=root.thres:warning",
    ]
    code = (
        "import json, resource, subprocess, sys, time\n"
        "started = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - started\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps([done.returncode, wall, peak, done.stdout, done.stderr[-300:]]))\n"
    )
    # A fresh parent, so that the children's peak memory is the driver's alone.
    watched = subprocess.run(
        [sys.executable, "-c", code, *command], capture_output=True, text=True, check=True
    )
    returncode, wall, peak, stdout, stderr = json.loads(watched.stdout)
    if returncode != 0:
        reason = f"the SimGrid driver failed ({returncode}): {stderr.strip()}"
        return {"simgrid_wall_s": None, "simgrid_peak_rss_mib": None, "simgrid_reason": reason}
    result = json.loads(stdout.strip().splitlines()[-1])
    return {
        "simgrid_wall_s": wall,
        "simgrid_peak_rss_mib": peak,
        "simgrid_simulated_s": result["simulated_s"],
        "simgrid_version": result["simgrid_version"],
        "simgrid_reason": None,
    }


def main_migrate(quick: bool = False, repeats: int = 3) -> dict[str, dict[str, float]]:
    """``migrate_1gib``: per strategy, time (median of interleaved repeats) and memory."""
    strategies = list(registered())

    def measure(strategy: str) -> dict[str, Any]:
        return {"raw_msgs_per_s": raw_pingpong(16, 100, 1e-4), **migrate_one(strategy)}

    results = interleaved(repeats, strategies, measure)
    rows = {}
    for name in strategies:
        runs = results[name]
        rows[name] = {
            "wall_s": median([r["wall_s"] for r in runs]),
            "cpu_s": median([r["cpu_s"] for r in runs]),
            "raw_msgs_per_s": median([r["raw_msgs_per_s"] for r in runs]),
            "extra_rss_mib": in_fresh_interpreter("migrate_one", name)["extra_rss_mib"],
        }
    return rows


def main_concurrent(
    quick: bool = False, repeats: int = 3, ks: tuple[int, ...] | None = None
) -> list[dict[str, Any]]:
    """``concurrent_migrations``: one row per k, medians of interleaved fresh-interpreter runs."""
    counts = ks or ((16,) if quick else (16, 100, 1000))

    def measure(k: int) -> dict[str, Any]:
        raw = raw_pingpong(16, 100, 1e-4)
        return {**in_fresh_interpreter("concurrent", k), "raw_msgs_per_s": raw}

    results = interleaved(repeats, tuple(k for k in counts if k < BIG), measure)
    results.update(interleaved(1, tuple(k for k in counts if k >= BIG), measure))
    rows = []
    for k in counts:
        runs = results[k]
        rows.append(
            {
                "k": k,
                "wall_s": median([r["wall_s"] for r in runs]),
                "cpu_s": median([r["cpu_s"] for r in runs]),
                "peak_rss_mib": median([r["peak_rss_mib"] for r in runs]),
                "simulated_s": runs[0]["simulated_s"],
                "raw_msgs_per_s": median([r["raw_msgs_per_s"] for r in runs]),
                "repeats": len(runs),
                **simgrid_run(k),
            }
        )
    return rows

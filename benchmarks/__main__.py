"""``python -m benchmarks [NAME ...] [--quick] [--json] [--repeats N]``: run the benchmarks.

NAME is one of ``messages``, ``migrate``, ``scale``, ``concurrent``, ``sweep``; without
one, every benchmark runs (``--quick``: all but ``sweep``, at the small sizes, in under a
minute). Every figure is the median of ``--repeats`` interleaved repeats, each measured
beside its raw-simpy yardstick. ``--json`` prints one JSON object on stdout (progress
goes to stderr); otherwise a readable summary.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy
import simpy

from benchmarks import messages, migration, native_speed, pagetrace, scale, sweep_parallel

NAMES = ("messages", "migrate", "scale", "concurrent", "sweep", "pagetrace", "native")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "simpy": simpy.__version__,
        "numpy": numpy.__version__,
    }


def run(names: list[str], quick: bool, repeats: int) -> dict[str, Any]:
    """Run the named benchmarks; one dict with every figure."""
    out: dict[str, Any] = {"quick": quick, "repeats": repeats, "machine": machine()}

    def do_messages() -> None:
        summary = messages.main(quick=quick, repeats=repeats)
        out["local_msgs_ratio"] = summary["local_msgs_ratio"]
        out["remote_msgs_ratio"] = summary["remote_msgs_ratio"]
        out["messages"] = summary

    def do_migrate() -> None:
        out["migrate_1gib"] = migration.main_migrate(quick=quick, repeats=repeats)

    def do_scale() -> None:
        out["scale"] = scale.main(quick=quick, repeats=repeats)

    def do_concurrent() -> None:
        out["concurrent_migrations"] = migration.main_concurrent(quick=quick, repeats=repeats)

    def do_sweep() -> None:
        with contextlib.redirect_stdout(sys.stderr):
            out["sweep"] = sweep_parallel.main(repeats=repeats)

    def do_pagetrace() -> None:
        with contextlib.redirect_stdout(sys.stderr):
            out["pagetrace_records_per_s"] = pagetrace.main(repeats=repeats)

    def do_native() -> None:
        with contextlib.redirect_stdout(sys.stderr):  # its table is its result
            native_speed.main(repeats=max(repeats, 3))

    steps: dict[str, Callable[[], None]] = {
        "messages": do_messages,
        "migrate": do_migrate,
        "scale": do_scale,
        "concurrent": do_concurrent,
        "sweep": do_sweep,
        "pagetrace": do_pagetrace,
        "native": do_native,
    }
    for name in names:
        started = time.perf_counter()
        print(f"benchmark {name} ...", file=sys.stderr, flush=True)
        steps[name]()
        print(f"benchmark {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return out


def summary_lines(out: dict[str, Any]) -> list[str]:
    """A readable summary of :func:`run`'s result."""
    lines = [f"machine: {out['machine']}", f"median of {out['repeats']} interleaved repeats"]
    if "messages" in out:
        m = out["messages"]
        lines.append(f"messages ({m['pairs']} ping-pong pairs, {m['rounds']} rounds):")
        for row in ("local", "remote"):
            lines.append(
                f"  {row:<6} {m[f'{row}_msgs_per_s']:10,.0f} msgs/s, raw simpy "
                f"{m[f'{row}_raw_msgs_per_s']:10,.0f} msgs/s: ratio {m[f'{row}_msgs_ratio']:.4f}"
                f" (CPU time: {m[f'{row}_msgs_ratio_cpu']:.4f})"
            )
    if "migrate_1gib" in out:
        lines.append("migrate a 1 GiB process (modern-10gbe):")
        for name, row in out["migrate_1gib"].items():
            lines.append(
                f"  {name:<18} {row['wall_s']:8.3f} s (CPU {row['cpu_s']:8.3f} s)"
                f"  +{row['extra_rss_mib']:7.1f} MiB"
            )
    if "scale" in out:
        lines.append("cluster run, 100 processes per node, first 0.1 s simulated:")
        for row in out["scale"]:
            lines.append(
                f"  {row['nodes']:>5} nodes {row['processes']:>7} processes "
                f"{row['wall_s']:9.2f} s {row['us_per_process']:9.1f} us/process "
                f"(CPU {row['cpu_us_per_process']:9.1f} us/process, {row['events']:,} events)"
            )
    if "concurrent_migrations" in out:
        lines.append("k concurrent precopy migrations of idle 1 GiB processes, shared 10 Gb/s:")
        for row in out["concurrent_migrations"]:
            simgrid = (
                f"SimGrid {row['simgrid_wall_s']:.3f} s"
                if row["simgrid_wall_s"] is not None
                else f"SimGrid: {row['simgrid_reason']}"
            )
            lines.append(
                f"  k={row['k']:<5} {row['wall_s']:8.2f} s (CPU {row['cpu_s']:8.2f} s)"
                f"  peak {row['peak_rss_mib']:8.1f} MiB"
                f"  ({simgrid})"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"which to run: {', '.join(NAMES)} (all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (median)")
    arguments = parser.parse_args()
    unknown = [name for name in arguments.names if name not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; benchmarks: {', '.join(NAMES)}")
    if arguments.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {arguments.repeats}")
    # the quick run leaves out the sweep and the trace tools (they need valgrind, gcc...)
    slow = ("sweep", "pagetrace", "native")
    default = [n for n in NAMES if n not in slow] if arguments.quick else list(NAMES)
    out = run(arguments.names or default, arguments.quick, arguments.repeats)
    if arguments.json:
        print(json.dumps(out))
    else:
        print("\n".join(summary_lines(out)))


main()

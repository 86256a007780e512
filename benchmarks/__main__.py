"""``python -m benchmarks [kernel] [sweep] [--repeats N]``: run the benchmarks (all by default)."""

from __future__ import annotations

import argparse

from benchmarks import kernel, native_speed, pagetrace, sweep_parallel

BENCHMARKS = {
    "kernel": kernel.main,
    "sweep": sweep_parallel.main,
    "pagetrace": pagetrace.main,
    "native": native_speed.main,
}

parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
parser.add_argument("names", nargs="*", help=f"which to run: {', '.join(BENCHMARKS)} (all)")
parser.add_argument("--repeats", type=int, default=3, help="measurements per number (best kept)")
arguments = parser.parse_args()
unknown = [name for name in arguments.names if name not in BENCHMARKS]
if unknown:
    parser.error(f"unknown benchmark {unknown[0]!r}; benchmarks: {', '.join(BENCHMARKS)}")
for name in arguments.names or list(BENCHMARKS):
    BENCHMARKS[name](repeats=arguments.repeats)
    print()

"""How many instructions per second this machine's cores run the shipped traces' programs.

The modern profiles' ``instructions_per_s`` is measured here: each shipped trace's
program (its recipe in :mod:`rhodos.workload.pagetrace.remake`) runs natively, not under
valgrind, ``repeats`` times; the instructions lackey counted when recording it, divided
by the CPU time (user + system) the native run took, is the rate -- the same kind of
instruction the replay counts (x86-64, start-up and dynamic linking included). The best
run is kept (the machine is shared; CPU time is less disturbed than wall time, but a
busy sibling core still slows it). Prints; asserts nothing.
"""

from __future__ import annotations

import contextlib
import resource
import subprocess
import tempfile
from pathlib import Path

from rhodos.workload.pagetrace import PageTrace, shipped_traces
from rhodos.workload.pagetrace.recorder import DEFAULT_ENV
from rhodos.workload.pagetrace.remake import RECIPES, command_of

__all__ = ["main", "native_rate"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def native_rate(name: str, repeats: int = 5) -> tuple[int, float]:
    """Instructions of trace ``name`` and the least CPU seconds its program took natively."""
    recipe = next(r for r in RECIPES if r.name == name)
    instructions = int(PageTrace(shipped_traces()[name]).meta["instructions"])
    best = float("inf")
    with tempfile.TemporaryDirectory(prefix=f"rhodos-native-{name}-") as tmp:
        scratch = Path(tmp)
        for file, make in recipe.inputs.items():
            (scratch / file).write_text(make())
        command = command_of(recipe)
        for _ in range(repeats):
            with contextlib.ExitStack() as stack:
                stdin = (
                    stack.enter_context(open(scratch / recipe.stdin, "rb"))
                    if recipe.stdin
                    else subprocess.DEVNULL
                )
                before = _children_cpu()
                subprocess.run(
                    command,
                    cwd=scratch,
                    stdin=stdin,
                    stdout=subprocess.DEVNULL,
                    env={**DEFAULT_ENV, **recipe.env},
                    check=True,
                )
                best = min(best, _children_cpu() - before)
    return instructions, best


def main(repeats: int = 5) -> None:
    """Print each shipped program's native instructions per CPU second, and their median."""
    print("native speed of the shipped traces' programs (instructions / CPU second, best run)")
    rates = []
    for recipe in RECIPES:
        instructions, seconds = native_rate(recipe.name, max(repeats, 3))
        rates.append(instructions / seconds)
        print(
            f"  {recipe.name:7s} {instructions:>13,} instructions in {seconds * 1e3:7.1f} ms "
            f"CPU: {rates[-1] / 1e6:7,.0f} million per second"
        )
    rates.sort()
    print(f"  median {rates[len(rates) // 2] / 1e6:,.0f} million instructions per second")

"""Plot how the cost of a cluster run grows with nodes, from ``python -m benchmarks --json`` files.

``python -m benchmarks.plot OUT.png LABEL=RUN.json [LABEL=RUN.json ...]`` draws, for each
run, the wall time per process against the number of nodes (the ``scale`` rows), and
beside it the CPU time per process (what a machine busy with other work disturbs less).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    if len(argv) < 2 or any("=" not in arg for arg in argv[1:]):
        raise SystemExit("usage: python -m benchmarks.plot OUT.png LABEL=RUN.json [...]")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(argv[0])
    figure, (wall, cpu) = plt.subplots(1, 2, figsize=(10, 4))
    for arg in argv[1:]:
        label, path = arg.split("=", 1)
        rows = json.loads(Path(path).read_text())["scale"]
        nodes = [row["nodes"] for row in rows]
        wall.plot(nodes, [row["us_per_process"] / 1e3 for row in rows], "o-", label=label)
        cpu.plot(nodes, [row["cpu_us_per_process"] / 1e3 for row in rows], "o-", label=label)
    for axes in (wall, cpu):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("nodes (100 processes each)")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    wall.set_ylabel("wall time per process (ms)")
    cpu.set_ylabel("CPU time per process (ms)")
    figure.suptitle("Cluster run, first 0.1 s simulated: flat lines are linear in nodes")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])

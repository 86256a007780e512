"""The standard figures of a sweep: each metric against each axis, one line per strategy.

:func:`plot_sweep` reads a sweep folder (``results.csv`` and ``manifest.json``) and draws,
for every axis of the sweep but the strategy, one figure with a panel per metric: the
metric's mean against the axis, one line per strategy (and per value of the other axes,
so no two settings are averaged together), with 95% confidence-interval bars. A sweep
whose only axis is the strategy gets bars instead. Each figure is written as PNG and SVG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator, NullLocator

from rhodos.experiment.manifest import SweepManifest
from rhodos.experiment.palette import colour, metric_axis, scale_axis, value_label
from rhodos.experiment.results import ResultsFile
from rhodos.experiment.stats import summarize
from rhodos.migration_manager.metrics import compared
from rhodos.units import format_size

__all__ = ["PLOT_METRICS", "plot_sweep"]

#: The metrics drawn by default.
PLOT_METRICS = ("latency_s", "freeze_s", "total_s", "bytes_total", "remote_faults", "slowdown")


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


#: The x-axis label of a scenario key (else the key itself).
_X_LABELS = {
    "memory_bytes": "address space",
    "node_memory_bytes": "memory of a node",
    "dirty_rate": "dirty rate (pages/s)",
    "touch_fraction": "fraction of the pages touched",
    "cpu_seconds": "CPU time of the process (s)",
    "migrate_at": "time of the migration request (s)",
    "home_calls_per_s": "home calls per second",
}


#: Line styles telling apart the lines of one strategy (other axes' values).
_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _lines(
    summary: Sequence[Mapping[str, Any]], axis: str, axes: Sequence[str]
) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """The summary entries of each line, by (strategy, what else is fixed along it): same
    strategy, same value of every other axis."""
    others = [a for a in axes if a not in (axis, "strategy")]
    lines: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for entry in summary:
        if entry.get(axis) is None:  # another strategy's parameter axis
            continue
        fixed = [value_label(a, entry[a]) for a in others if entry.get(a) is not None]
        lines.setdefault((str(entry.get("strategy")), ", ".join(fixed)), []).append(entry)
    return lines


def _errors(means: Sequence[float], halves: Sequence[float]) -> list[list[float]]:
    """Confidence-interval bars that never reach below zero (no metric is negative)."""
    return [[min(h, m) for m, h in zip(means, halves, strict=True)], list(halves)]


def _figure(
    summary: Sequence[Mapping[str, Any]],
    axis: str,
    axes: Sequence[str],
    metrics: Sequence[str],
    title: str,
) -> Any:
    columns = min(3, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    fig, panels = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False)
    values = [e[axis] for e in summary if e.get(axis) is not None]
    numeric = _numeric(values)
    categories = list(dict.fromkeys(values))
    xlabel = _X_LABELS.get(axis, axis)
    lines = _lines(summary, axis, axes)
    variants = list(dict.fromkeys(fixed for _, fixed in lines))
    bars = axis == "strategy"
    for panel, name in zip(panels.flat, metrics, strict=False):
        means = [e.get(f"{name}_mean") for e in summary if e.get(axis) is not None]
        label, unit = metric_axis(name, means)
        for (strategy, fixed), entries in lines.items():
            points = [
                e
                for e in sorted(entries, key=lambda e: e[axis] if numeric else 0)
                if e.get(f"{name}_mean") is not None
            ]
            if not points:
                continue
            xs = [e[axis] if numeric else categories.index(e[axis]) for e in points]
            ys = [e[f"{name}_mean"] / unit for e in points]
            errors = _errors(ys, [(e.get(f"{name}_ci95") or 0.0) / unit for e in points])
            legend = ", ".join(filter(None, [strategy, fixed]))
            if bars:
                panel.bar(xs, ys, yerr=errors, capsize=4, color=colour(strategy), label=legend)
            else:
                variant = variants.index(fixed)
                panel.errorbar(
                    xs,
                    ys,
                    yerr=errors,
                    capsize=3,
                    color=colour(strategy),
                    linestyle=_STYLES[variant % len(_STYLES)],
                    marker=_MARKERS[variant % len(_MARKERS)],
                    label=legend,
                )
        if not numeric or bars:
            panel.set_xticks(range(len(categories)), [str(c) for c in categories])
            if bars:
                panel.tick_params(axis="x", labelrotation=45)
        elif axis.endswith("_bytes"):  # sizes: a tick at each size swept, written as sizes
            scale_axis(panel, values, "x", base=2)
            panel.set_xticks(categories, [format_size(int(v)) for v in categories])
            panel.xaxis.set_minor_locator(NullLocator())
        elif not scale_axis(panel, values, "x") and all(isinstance(v, int) for v in values):
            panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        scale_axis(panel, [m / unit for m in means if m is not None])
        panel.set_title(label)
        panel.set_xlabel(xlabel)
        panel.grid(alpha=0.3)
    for panel in list(panels.flat)[len(metrics) :]:
        panel.set_visible(False)
    handles, labels = panels.flat[0].get_legend_handles_labels()
    if handles and not bars:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), frameon=False)
        fig.tight_layout(rect=(0, 0.06 * math.ceil(len(labels) / 4), 1, 0.95))
    else:
        fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.suptitle(title)
    return fig


def plot_sweep(
    folder: str | Path, out: str | Path | None = None, metrics: Sequence[str] = PLOT_METRICS
) -> list[Path]:
    """Draw the figures of the sweep in ``folder`` into ``out`` (default ``folder/figures``).

    Returns the files written (a PNG and an SVG per figure).
    """
    folder = Path(folder)
    manifest = SweepManifest(folder / "manifest.json").read()
    if manifest is None:
        raise FileNotFoundError(f"{folder} holds no manifest.json: is it a sweep folder?")
    compared(metrics)
    rows = ResultsFile(folder / "results.csv").rows()
    if not rows:
        raise ValueError(f"{folder}/results.csv holds no results yet")
    axes = list(manifest["axes"])
    summary = summarize(rows, axes, metrics)
    drawn = [a for a in axes if a != "strategy"] or ["strategy"]
    target = Path(out) if out is not None else folder / "figures"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for axis in drawn:
        done = sum(e["n"] for e in summary)
        refused = sum(e.get("refused", 0) for e in summary)
        title = f"{manifest['name']}: {done} runs, mean and 95% CI against {axis}"
        if refused:
            title += f" ({refused} refused runs are not drawn)"
        fig = _figure(summary, axis, axes, metrics, title)
        stem = axis.replace(".", "-")
        for suffix in (".png", ".svg"):
            path = target / f"{stem}{suffix}"
            fig.savefig(path, dpi=110)
            written.append(path)
        plt.close(fig)
    return written

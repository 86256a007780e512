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
from matplotlib.ticker import MaxNLocator

from rhodos.experiment.manifest import SweepManifest
from rhodos.experiment.results import ResultsFile
from rhodos.experiment.stats import summarize
from rhodos.migration_manager.metrics import compared, metric

__all__ = ["PLOT_METRICS", "plot_sweep"]

#: The metrics drawn by default.
PLOT_METRICS = ("latency_s", "freeze_s", "total_s", "bytes_total", "remote_faults", "slowdown")


def _label(name: str) -> str:
    """A panel's title: the metric's label, with its unit when it is a time."""
    shown = metric(name)
    return f"{shown.label} (s)" if shown.unit == "s" else shown.label


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _x_scale(axis: str, values: Sequence[Any]) -> tuple[float, str]:
    """A divisor and a label for the axis (memory sizes in KiB or MiB)."""
    if axis == "memory_bytes":
        return (1 << 20, "memory (MiB)") if max(values) >= 1 << 20 else (1 << 10, "memory (KiB)")
    return 1.0, axis


def _lines(
    summary: Sequence[Mapping[str, Any]], axis: str, axes: Sequence[str]
) -> dict[str, list[Mapping[str, Any]]]:
    """The summary entries of each line: same strategy, same value of every other axis."""
    others = [a for a in axes if a not in (axis, "strategy")]
    lines: dict[str, list[Mapping[str, Any]]] = {}
    for entry in summary:
        if entry.get(axis) is None:  # another strategy's parameter axis
            continue
        fixed = [f"{a}={entry[a]}" for a in others if entry.get(a) is not None]
        label = ", ".join([str(entry.get("strategy")), *fixed])
        lines.setdefault(label, []).append(entry)
    return lines


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
    scale, xlabel = _x_scale(axis, values) if numeric else (1.0, axis)
    lines = _lines(summary, axis, axes)
    bars = axis == "strategy"
    for panel, name in zip(panels.flat, metrics, strict=False):
        for i, (label, entries) in enumerate(lines.items()):
            points = [
                e
                for e in sorted(entries, key=lambda e: e[axis] if numeric else 0)
                if e.get(f"{name}_mean") is not None
            ]
            if not points:
                continue
            xs = [e[axis] / scale if numeric else categories.index(e[axis]) for e in points]
            ys = [e[f"{name}_mean"] for e in points]
            errors = [e.get(f"{name}_ci95") or 0.0 for e in points]
            color = plt.get_cmap("tab10")(i % 10)
            if bars:
                panel.bar(xs, ys, yerr=errors, capsize=4, color=color, label=label)
            else:
                panel.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, color=color, label=label)
        if not numeric or bars:
            panel.set_xticks(range(len(categories)), [str(c) for c in categories])
            if bars:
                panel.tick_params(axis="x", labelrotation=45)
        elif min(values) > 0 and max(values) / min(values) >= 16:
            panel.set_xscale("log", base=2)
        elif all(isinstance(v, int) for v in values):
            panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.set_title(_label(name))
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
        title = f"{manifest['name']}: {done} runs, mean and 95% CI against {axis}"
        fig = _figure(summary, axis, axes, metrics, title)
        stem = axis.replace(".", "-")
        for suffix in (".png", ".svg"):
            path = target / f"{stem}{suffix}"
            fig.savefig(path, dpi=110)
            written.append(path)
        plt.close(fig)
    return written

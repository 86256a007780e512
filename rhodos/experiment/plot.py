"""Figures: the strategy comparison as bars, a panel per metric.

Each strategy keeps its place and its colour (:mod:`rhodos.experiment.palette`) in every
panel; a refused one is marked refused where its bar would be. Every bar carries its
value, so a zero reads as zero even on a log scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from rhodos.experiment.palette import colour, metric_axis, scale_axis
from rhodos.migration_manager import MigrationRecord

__all__ = ["PANELS", "comparison_figure", "comparison_path", "plot_comparison"]

#: The metrics compared, one panel each.
PANELS = ("latency_s", "freeze_s", "total_s", "bytes_total", "remote_faults", "slowdown")


def _short(value: float) -> str:
    """A bar's label: three significant digits."""
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def comparison_figure(
    records: Sequence[MigrationRecord], title: str = "", panels: Sequence[str] = PANELS
) -> Any:
    """The figure: a panel per metric of ``panels``, a bar per strategy."""
    names = [r.strategy for r in records]
    rows = [r.metrics() for r in records]
    columns = 3 if len(panels) > 4 else len(panels)
    lines = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.4 * columns, 3.9 * lines), squeeze=False)
    for ax, name in zip(axes.flat, panels, strict=False):
        values = [row[name] for row in rows]
        label, scale = metric_axis(name, values)
        shown = [None if v is None else v / scale for v in values]
        xs = range(len(names))
        heights = [0.0 if v is None else v for v in shown]
        ax.bar(xs, heights, color=[colour(n) for n in names])
        log = scale_axis(ax, shown)
        top = max((v for v in shown if v is not None), default=1.0) or 1.0
        if log:  # room above the tallest bar for its label
            bottom = ax.get_ylim()[0]
            ax.set_ylim(bottom, top * 1.8)
        for x, value in zip(xs, shown, strict=True):
            if value is None:
                y = ax.get_ylim()[0] if log else 0.0
                ax.text(x, y, " refused", rotation=90, ha="center", va="bottom", color="red")
            else:
                at = value if value > 0 or not log else ax.get_ylim()[0]
                ax.text(x, at, _short(value), ha="center", va="bottom", fontsize=7)
        if not log:
            ax.set_ylim(0, top * 1.15)
        if name == "slowdown":
            ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_xticks(list(xs), names, rotation=45, ha="right")
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def comparison_path(path: str | Path) -> Path:
    """The file :func:`plot_comparison` writes for ``path``: ``compare.png`` in an existing
    folder, ``.png`` added to a name without a suffix."""
    out = Path(path)
    if out.is_dir():
        return out / "compare.png"
    return out if out.suffix else out.with_suffix(".png")


def plot_comparison(records: Sequence[MigrationRecord], path: str | Path, title: str = "") -> Path:
    """Write :func:`comparison_figure` to ``path``: its suffix says the format (none: a
    PNG, ``.png`` added); an existing folder gets ``compare.png``. Returns the file written.
    """
    out = comparison_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = comparison_figure(records, title)
    try:
        fig.savefig(out, dpi=110)
    finally:
        plt.close(fig)
    return out

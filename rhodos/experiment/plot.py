"""Figures: the strategy comparison as grouped bars."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from rhodos.migration_manager import MigrationRecord
from rhodos.migration_manager.metrics import metric

__all__ = ["plot_comparison"]

#: The metrics compared, one panel each.
_PANELS = ("latency_s", "freeze_s", "total_s", "bytes_total")


def plot_comparison(records: Sequence[MigrationRecord], path: str | Path, title: str = "") -> Path:
    """Bars of latency, freeze time, total time and bytes, one bar per strategy."""
    done = [r for r in records if r.ok]
    names = [r.strategy for r in done]
    fig, axes = plt.subplots(1, len(_PANELS), figsize=(4.2 * len(_PANELS), 4.2))
    palette = plt.get_cmap("tab10")
    for ax, name in zip(axes, _PANELS, strict=True):
        shown = metric(name)
        values = [float(r.metrics()[name] or 0.0) for r in done]
        unit = shown.unit
        if unit == "bytes":
            values, unit = [v / 1e6 for v in values], "MB"
        ax.bar(range(len(names)), values, color=[palette(i % 10) for i in range(len(names))])
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_title(f"{shown.label} ({unit})")
        ax.grid(axis="y", alpha=0.3)
        positive = [v for v in values if v > 0]
        if positive and max(positive) / min(positive) > 100:
            ax.set_yscale("log")
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out

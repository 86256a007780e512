"""Figures: the strategy comparison as grouped bars."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from rhodos.migration_manager import MigrationRecord

__all__ = ["plot_comparison"]

_PANELS = (
    ("latency_s", "latency (s)"),
    ("freeze_s", "freeze time (s)"),
    ("total_s", "total time (s)"),
    ("bytes_total", "bytes moved (MB)"),
)


def plot_comparison(records: Sequence[MigrationRecord], path: str | Path, title: str = "") -> Path:
    """Bars of latency, freeze time, total time and bytes, one bar per strategy."""
    done = [r for r in records if r.ok]
    names = [r.strategy for r in done]
    fig, axes = plt.subplots(1, len(_PANELS), figsize=(4.2 * len(_PANELS), 4.2))
    palette = plt.get_cmap("tab10")
    for ax, (metric, label) in zip(axes, _PANELS, strict=True):
        values = [float(r.metrics()[metric] or 0.0) for r in done]
        if metric == "bytes_total":
            values = [v / 1e6 for v in values]
        ax.bar(range(len(names)), values, color=[palette(i % 10) for i in range(len(names))])
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_title(label)
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

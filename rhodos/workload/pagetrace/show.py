"""A page trace at a glance: its summary in text and its picture.

:func:`summarize` computes the numbers (instructions, windows, pages by region, read
and written, the working set per window), :func:`describe` words them, and
:func:`plot` draws the picture: which pages each window read and wrote, by region,
over the run, and the working-set size per window.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.workload.pagetrace.format import REGIONS, PageTrace

__all__ = ["TraceSummary", "describe", "plot", "summarize"]

#: Region colours: a light shade for pages read, a dark one for pages written.
_COLOURS = {
    "code": ("#9ecae1", "#08519c"),
    "heap": ("#a1d99b", "#006d2c"),
    "mapped": ("#fdd0a2", "#a63603"),
    "stack": ("#dadaeb", "#54278f"),
}
#: Order of the regions from the bottom of the picture up (the replay's layout order).
_ORDER = ("code", "heap", "mapped", "stack")


@attrs.frozen
class TraceSummary:
    """The numbers of a trace (per-window figures over its windows).

    Attributes:
        name: the trace's name.
        command: the recorded command.
        instructions: total instructions.
        windows: number of windows; ``window``: instructions per full window.
        page_size: bytes per page.
        pages: pages touched by region (and ``"total"``).
        written: pages ever written, by region (and ``"total"``).
        touched_mean, touched_max: pages touched (read or written) per window.
        written_mean, written_max: pages written per window.
    """

    name: str
    command: tuple[str, ...]
    instructions: int
    windows: int
    window: int
    page_size: int
    pages: dict[str, int]
    written: dict[str, int]
    touched_mean: float
    touched_max: int
    written_mean: float
    written_max: int


def _per_window(trace: PageTrace) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    touched = np.zeros(len(trace), dtype=np.int64)
    written = np.zeros(len(trace), dtype=np.int64)
    for w in trace:
        touched[w.index] = np.union1d(w.reads, w.writes).size
        written[w.index] = w.writes.size
    return touched, written


def summarize(trace: PageTrace) -> TraceSummary:
    """The numbers of ``trace`` (one pass over its windows)."""
    ever_written = np.zeros(trace.pages.size, dtype=np.bool_)
    for w in trace:
        ever_written[w.writes] = True
    touched, written = _per_window(trace)

    def by_region(mask: npt.NDArray[np.bool_]) -> dict[str, int]:
        counts = {
            r: int(np.count_nonzero(mask & (trace.regions == i))) for i, r in enumerate(REGIONS)
        }
        return {**counts, "total": int(np.count_nonzero(mask))}

    everything = np.ones(trace.pages.size, dtype=np.bool_)
    return TraceSummary(
        name=trace.name,
        command=tuple(trace.meta["command"]),
        instructions=int(trace.meta["instructions"]),
        windows=len(trace),
        window=int(trace.meta["window"]),
        page_size=trace.page_size,
        pages=by_region(everything),
        written=by_region(ever_written),
        touched_mean=float(touched.mean()) if touched.size else 0.0,
        touched_max=int(touched.max()) if touched.size else 0,
        written_mean=float(written.mean()) if written.size else 0.0,
        written_max=int(written.max()) if written.size else 0,
    )


def describe(trace: PageTrace) -> str:
    """A few lines saying what ``trace`` holds."""
    s = summarize(trace)
    kib = s.page_size // 1024 or s.page_size
    unit = "KiB" if s.page_size >= 1024 else "B"
    regions = ", ".join(f"{r} {s.pages[r]:,} ({s.written[r]:,} written)" for r in _ORDER)
    lines = [
        f"{s.name}: {' '.join(s.command)}",
        f"  {s.instructions:,} instructions in {s.windows:,} windows of {s.window:,}",
        f"  {s.pages['total']:,} pages of {kib} {unit} touched "
        f"({s.pages['total'] * s.page_size / 2**20:.2f} MiB), {s.written['total']:,} written",
        f"  by region: {regions}",
        f"  per window: {s.touched_mean:.0f} pages touched on average (max {s.touched_max:,}), "
        f"{s.written_mean:.0f} written (max {s.written_max:,})",
        f"  recorded with {trace.meta['valgrind']} ({trace.meta['tool']})",
    ]
    held = trace.meta.get("allocated_by_region")
    if held:
        total = sum(held.values())
        parts = ", ".join(f"{r} {held[r] / 2**20:.2f}" for r in _ORDER if r in held)
        lines.insert(
            4,
            f"  allocated (mapped at any time): {total / 2**20:.2f} MiB ({parts} MiB); "
            f"touched {s.pages['total'] * s.page_size / max(total, 1):.0%} of it",
        )
    return "\n".join(lines)


def _raster(
    trace: PageTrace, height: int = 150, least: int = 14
) -> tuple[npt.NDArray[np.float64], list[tuple[str, int, int, int]]]:
    """An RGB image of about ``height`` rows by one column per window.

    Each region is a band of rows (code at the bottom, then heap, mapped, stack), its
    pages in address order; a band gets rows in proportion to its pages but at least
    ``least``, and each row shows the strongest state (written over read over untouched)
    of the pages it stands for, so that no touched page vanishes. Returns the image
    and, per band, its region, first row, rows and pages.
    """
    from matplotlib.colors import to_rgb

    total = max(1, trace.pages.size)
    blocks = []
    bands = []
    first_row = 0
    for r in _ORDER:
        members = trace.region_pages(r)
        count = members.size
        if not count:
            continue
        # Rows: a share of ``height``, at least ``least``; a small band repeats each
        # page over several rows, a large one pools several pages into a row.
        rows = max(least, round(height * count / total))
        repeat = max(1, rows // count)
        rows = min(rows, count) * repeat
        row_of = np.full(trace.pages.size, -1, dtype=np.int64)
        row_of[members] = np.arange(count) * (rows // repeat) // count
        state = np.zeros((rows // repeat, len(trace)), dtype=np.uint8)  # 1 read, 2 written
        for w in trace:
            for pages, value in ((w.reads, 1), (w.writes, 2)):
                mine = row_of[pages]
                np.maximum.at(state[:, w.index], mine[mine >= 0], value)
        state = np.repeat(state, repeat, axis=0)
        block = np.ones((rows, len(trace), 3))
        block[state == 1] = to_rgb(_COLOURS[r][0])
        block[state == 2] = to_rgb(_COLOURS[r][1])
        blocks.append(block)
        bands.append((r, first_row, rows, count))
        first_row += rows
    image = np.concatenate(blocks) if blocks else np.ones((1, max(1, len(trace)), 3))
    return image, bands


def plot(trace: PageTrace, path: str | Path) -> None:
    """Draw ``trace``: pages read and written per window by region, and the working set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    s = summarize(trace)
    touched, written = _per_window(trace)
    image, bands = _raster(trace)
    millions = np.cumsum(trace.instructions.astype(np.int64)) / 1e6
    extent = (0.0, float(millions[-1]) if millions.size else 1.0, 0.0, float(image.shape[0]))
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(9, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}
    )
    top.imshow(image, aspect="auto", origin="lower", extent=extent, interpolation="nearest")
    for _, start, _, _ in bands[1:]:
        top.axhline(start, color="0.5", linewidth=0.6)
    top.set_yticks([start + rows / 2 for _, start, rows, _ in bands])
    top.set_yticklabels([f"{r}\n{count:,} pages" for r, _, _, count in bands], fontsize=8)
    top.set_ylabel("pages, by region then address")
    command = " ".join(s.command)
    top.set_title(f"{s.name}: {command[:90]}{'...' if len(command) > 90 else ''}", fontsize=9)
    handles = [
        Patch(color=_COLOURS[r][k], label=f"{r} {kind}")
        for r in _ORDER
        for k, kind in ((0, "read"), (1, "written"))
        if s.pages[r]
    ]
    fig.legend(
        handles=handles,
        fontsize=7,
        ncol=len(handles) // 2,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.995),
        frameon=False,
    )
    centres = millions - trace.instructions / 2e6
    bottom.step(centres, touched, where="mid", label="pages touched", color="0.2")
    bottom.step(centres, written, where="mid", label="pages written", color="#a50f15")
    bottom.set_xlabel("instructions (millions)")
    bottom.set_ylabel(f"pages per window\n({s.window / 1e6:g}M instructions)")
    bottom.legend(fontsize=8, loc="best")
    bottom.set_ylim(bottom=0)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)

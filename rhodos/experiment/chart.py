"""Drawing a :class:`~rhodos.experiment.sequence.Sequence`: a message-sequence chart.

Time runs down the page. Each lane is a lifeline under its server's name, grouped by
node; each message is an arrow from its send to its arrival, named by its request
(replies dashed, unnamed), coloured by its traffic; each phase of the migration is a
shaded band across the chart, named on the right with its length; the process's
thread shows where it runs and where it is frozen. Rows are spaced by the logarithm
of the time between them -- microseconds apart close together, a long copy far apart
-- so a chart of a few dozen messages stays readable; the axis on the left gives every
row's time in milliseconds since the request. A run of identical exchanges drawn by
its first and last (see :data:`~rhodos.experiment.sequence.RUN_LIMIT`) is bracketed
and counted, and said in words below the chart.

:func:`write_chart` writes the picture and, beside it, its data as JSON
(:meth:`Sequence.to_dict`): what a test compares to know a chart is current, since
the picture's bytes change with matplotlib's version.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch

from rhodos.experiment.sequence import Arrow, Sequence

__all__ = ["CHART_SUFFIXES", "check_chart_path", "draw", "save_picture", "write_chart"]

#: The picture formats a chart is written in.
CHART_SUFFIXES = (".png", ".svg", ".pdf")

#: Colour of an arrow by its traffic kind.
TRAFFIC_COLOURS = {
    "local": "#6b6b6b",
    "control": "#000000",
    "state": "#2ca02c",
    "pages": "#1f77b4",
    "flush": "#9467bd",
    "forwarded": "#ff7f0e",
    "user": "#8c564b",
    "home": "#e377c2",
    "files": "#17becf",
}
#: What the legend calls each traffic kind.
TRAFFIC_WORDS = {
    "local": "within a node",
    "control": "control",
    "state": "state",
    "pages": "pages",
    "flush": "flush to the file server",
    "forwarded": "forwarded",
    "user": "user messages",
    "home": "home calls",
    "files": "open files",
}
STATE_COLOURS = {"running": "#2ca02c", "frozen": "#d62728"}
#: Line width of an arrow by its traffic kind (else 1.4): the heavier the message, the
#: thicker; a request within a node thin.
_WIDTHS = {"local": 1.0, "control": 1.6, "pages": 2.0}

LANE_W = 1.3  # inches between two lifelines
ROW_MIN, ROW_MAX = 0.24, 0.95  # inches between two rows (the closest, the farthest)
ROW_PER_DECADE = 0.12  # inches more per factor ten of time between two rows
LEFT, RIGHT, TOP = 1.15, 2.6, 1.55  # margins, inches


def _gap(seconds: float) -> float:
    """The height between two rows ``seconds`` apart."""
    if seconds <= 1e-5:
        return ROW_MIN
    return min(ROW_MAX, ROW_MIN + ROW_PER_DECADE * math.log10(seconds / 1e-5))


def _rows(sequence: Sequence) -> dict[float, float]:
    """The height of every instant the chart draws something at (rounded to the ns)."""
    times = {0.0}
    for a in sequence.arrows:
        times |= {a.sent} | ({a.arrived} if a.arrived is not None else set())
    for span in (*sequence.phases, *sequence.states):
        times |= {span.start, span.end}
    for e in sequence.elisions:
        times |= {e.start, e.end}
    ordered = sorted({round(t, 9) for t in times})
    rows: dict[float, float] = {}
    y = 0.0
    for i, t in enumerate(ordered):
        if i:
            y += _gap(t - ordered[i - 1])
        rows[t] = y
    return rows


def _size(size: int) -> str:
    """Bytes in three significant digits of a binary unit: ``72 B``, ``19.1 KiB``, ``1 MiB``."""
    for unit, one in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= one:
            return f"{size / one:.3g} {unit}"
    return f"{size} B"


def _label(arrow: Arrow) -> str:
    """What an arrow says: its request, and its size when it carries more than a header."""
    if arrow.traffic != "local" and arrow.bytes > 64:
        return f"{arrow.name} · {_size(arrow.bytes)}"
    return arrow.name


def _ms(seconds: float) -> str:
    """A time since the request, as the axis writes it."""
    return f"{seconds * 1e3:,.3f}"


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.4g} ms"
    return f"{seconds * 1e6:.3g} µs"


def draw(sequence: Sequence, subtitle: str = "") -> Any:
    """The chart of ``sequence`` as a matplotlib figure."""
    rows = _rows(sequence)

    def y(t: float) -> float:
        return rows[round(t, 9)]

    x = {lane.key: i * LANE_W for i, lane in enumerate(sequence.lanes)}
    height = max(rows.values())
    notes = _notes(sequence)
    bottom = 0.55 + 0.19 * len(notes)
    width_in = LEFT + LANE_W * max(1, len(sequence.lanes) - 1) + RIGHT
    height_in = TOP + height + 0.4 + bottom
    fig = plt.figure(figsize=(width_in, height_in))
    ax = fig.add_axes(
        (LEFT / width_in, bottom / height_in, 1 - (LEFT + RIGHT) / width_in, height / height_in)
    )
    right = LANE_W * max(1, len(sequence.lanes) - 1)
    ax.set_xlim(-0.45 * LANE_W, right + 0.45 * LANE_W)
    ax.set_ylim(height + 0.2, -0.2)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xticks([])

    # Phases: shaded bands across the chart, named on the right with their length.
    names: dict[float, list[str]] = {}
    for i, phase in enumerate(sequence.phases):
        names.setdefault(y(phase.start), []).append(phase.name)
        if phase.end > phase.start:
            ax.axhspan(y(phase.start), y(phase.end), color="#f0f0f0" if i % 2 else "#fbf3e4", lw=0)
            middle = (y(phase.start) + y(phase.end)) / 2
            ax.text(
                right + 0.5 * LANE_W, middle, _duration(phase.end - phase.start),
                fontsize=7, color="#777777", va="center", ha="left", style="italic",
            )  # fmt: skip
    for at, marks in names.items():
        ax.axhline(at, color="#bbbbbb", lw=0.6, ls=(0, (4, 3)), zorder=1)
        ax.text(
            right + 0.5 * LANE_W, at, ", ".join(marks),
            fontsize=7.5, va="bottom", ha="left", weight="bold", color="#444444",
        )  # fmt: skip

    # Lifelines, under their servers' names, grouped by node.
    for lane in sequence.lanes:
        ax.plot([x[lane.key]] * 2, [-0.1, height + 0.1], color="#999999", lw=0.8, zorder=2)
        ax.text(
            x[lane.key], -0.32, lane.title.replace(" ", "\n", 1),
            ha="center", va="bottom", fontsize=8, linespacing=1.1,
        )  # fmt: skip
    _node_boxes(ax, sequence, x)

    # The process's thread: where it runs, where it is frozen.
    for state in sequence.states:
        assert state.lane is not None
        colour = STATE_COLOURS.get(state.name, "#7f7f7f")
        ax.add_patch(
            FancyBboxPatch(
                (x[state.lane] - 0.06, y(state.start)), 0.12, y(state.end) - y(state.start),
                boxstyle="square,pad=0", facecolor=colour, alpha=0.45, edgecolor=colour,
                hatch="///" if state.name == "frozen" else None, zorder=3,
            )
        )  # fmt: skip

    # Messages; the labels of arrows leaving one lane at one instant are spread along.
    leaving: dict[tuple[str, float], int] = {}
    for arrow in sequence.arrows:
        start = (arrow.src, y(arrow.sent))
        _arrow(ax, arrow, x, y, sequence.end, leaving.get(start, 0))
        leaving[start] = leaving.get(start, 0) + (not arrow.reply)

    # Runs of identical exchanges drawn by their first and last: bracketed and counted.
    for e in sequence.elisions:
        at = x[e.src] + (-0.2 if x[e.dst] > x[e.src] else 0.2)  # beside the sender, outside
        ax.plot([at, at], [y(e.start), y(e.end)], color="#d62728", lw=1.2, ls=":", zorder=4)
        ax.text(
            at, (y(e.start) + y(e.end)) / 2, f"{e.name} ×{e.count}\n({e.count - 2} not drawn)",
            fontsize=7, color="#d62728", ha="center", va="center", rotation=90,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1},
            zorder=6,
        )  # fmt: skip

    ticks = sorted(rows)
    ax.set_yticks([rows[t] for t in ticks], [_ms(t) for t in ticks], fontsize=6.5)
    ax.set_ylabel("ms since the migration request")
    fig.text(0.5, 1 - 0.18 / height_in, sequence.title, ha="center", va="top", fontsize=11,
             weight="bold")  # fmt: skip
    if subtitle:
        fig.text(0.5, 1 - 0.45 / height_in, subtitle, ha="center", va="top", fontsize=8.5)
    _legend(fig, sequence, height_in)
    for i, note in enumerate(notes):
        fig.text(0.02, (bottom - 0.3 - 0.19 * i) / height_in, note, fontsize=7.5, va="top")
    return fig


def _arrow(ax: Any, arrow: Arrow, x: dict[str, float], y: Any, end: float, nth: int) -> None:
    colour = "#888888" if arrow.reply else TRAFFIC_COLOURS.get(arrow.traffic, "#000000")
    start = (x[arrow.src], y(arrow.sent))
    finish = (x[arrow.dst], y(arrow.arrived if arrow.arrived is not None else end))
    if arrow.src == arrow.dst:
        return  # a lane does not message itself: nothing to draw
    ax.annotate(
        "", xy=finish, xytext=start, zorder=5,
        arrowprops={
            "arrowstyle": "-|>" if arrow.arrived is not None else "-",
            "color": colour, "lw": _WIDTHS.get(arrow.traffic, 1.4) if not arrow.reply else 0.9,
            "ls": (0, (3, 2)) if arrow.reply else "-", "shrinkA": 0, "shrinkB": 0,
            "mutation_scale": 9,
        },
    )  # fmt: skip
    if arrow.arrived is None:
        ax.plot(*finish, marker="x", color=colour, ms=6, zorder=5)
    if arrow.reply:
        return
    along = (0.5 if abs(finish[0] - start[0]) <= LANE_W * 1.01 else 0.3) + 0.25 * nth
    along = min(along, 0.8)
    lx = start[0] + along * (finish[0] - start[0])
    ly = start[1] + along * (finish[1] - start[1])
    ax.text(
        lx, ly - 0.02, _label(arrow), fontsize=7, color=colour, ha="center", va="bottom",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.6}, zorder=6,
    )  # fmt: skip


def _node_boxes(ax: Any, sequence: Sequence, x: dict[str, float]) -> None:
    """A bracket over each node's lanes, naming the node and its part in the migration."""
    nodes: dict[int, list[float]] = {}
    for lane in sequence.lanes:
        nodes.setdefault(lane.node, []).append(x[lane.key])
    for node, xs in nodes.items():
        what = {sequence.source: "source", sequence.destination: "destination"}.get(node)
        roles = {lane.role for lane in sequence.lanes if lane.node == node}
        if what is None:
            what = "file server" if roles == {"file"} else "another node"
        left, right = min(xs) - 0.45 * LANE_W, max(xs) + 0.45 * LANE_W
        ax.plot([left, right], [-0.78, -0.78], color="#333333", lw=1.0, clip_on=False)
        ax.text(
            (left + right) / 2, -0.82, f"node {node} ({what})",
            ha="center", va="bottom", fontsize=9, weight="bold", clip_on=False,
        )  # fmt: skip


def _legend(fig: Any, sequence: Sequence, height_in: float) -> None:
    kinds = list(dict.fromkeys(a.traffic for a in sequence.arrows if not a.reply))
    handles: list[Any] = [
        Line2D([], [], color=TRAFFIC_COLOURS.get(k, "#000"), lw=_WIDTHS.get(k, 1.4)) for k in kinds
    ]
    labels = [TRAFFIC_WORDS.get(k, k) for k in kinds]
    handles.append(Line2D([], [], color="#888888", lw=1, ls=(0, (3, 2))))
    labels.append("reply")
    for state in dict.fromkeys(s.name for s in sequence.states):
        colour = STATE_COLOURS.get(state, "#7f7f7f")
        hatch = "///" if state == "frozen" else None
        handles.append(Patch(facecolor=colour, alpha=0.45, edgecolor=colour, hatch=hatch))
        labels.append(f"process {state}")
    fig.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.68 / height_in),
        ncol=min(len(labels), 8), fontsize=7.5, frameon=False,
    )  # fmt: skip


def _notes(sequence: Sequence) -> list[str]:
    """The words under the chart: what is left out, and how to read the time axis."""
    notes = [
        f"Times: ms of simulated time since the migration request "
        f"(t = {sequence.origin * 1e3:,.3f} ms); rows are spaced by the logarithm of the "
        "time between them, not to scale. Messages booked to the process, and the "
        "servers' own; not the thread's traps."
    ]
    for e in sequence.elisions:
        src, dst = sequence.lane(e.src), sequence.lane(e.dst)
        notes.append(
            f"Not drawn: {e.count - 2} of {e.count} {e.name} exchanges from the {src.title} "
            f"of node {src.node} to the {dst.title} of node {dst.node} "
            f"({_ms(e.start)}..{_ms(e.end)} ms): only the first and the last are drawn."
        )
    return notes


def check_chart_path(path: str | Path) -> Path:
    """``path`` when a chart can be written there (a picture's suffix; a folder that is
    one, or can be made), else a ``ValueError`` naming what is wrong."""
    path = Path(path)
    if path.suffix.lower() not in CHART_SUFFIXES:
        raise ValueError(
            f"--timeline {path}: a chart is a {', '.join(CHART_SUFFIXES)} file "
            "(its data is written beside it as .json)"
        )
    folder = next((p for p in path.parents if p.exists()), Path("."))
    if not folder.is_dir():
        raise ValueError(f"--timeline {path}: {folder} is not a folder")
    return path


def write_chart(sequence: Sequence, path: str | Path, subtitle: str = "") -> tuple[Path, Path]:
    """Draw ``sequence`` to ``path`` (.png, .svg or .pdf) and write its data beside it
    (``path`` with the suffix ``.json``); returns both paths."""
    path = check_chart_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = sequence.write_json(path.with_suffix(".json"))
    save_picture(sequence, path, subtitle)
    return path, data


def save_picture(sequence: Sequence, path: Path, subtitle: str = "") -> None:
    """Draw ``sequence`` into the picture file ``path``."""
    fig = draw(sequence, subtitle)
    fig.savefig(path, dpi=100)
    plt.close(fig)

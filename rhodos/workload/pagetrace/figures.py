"""A trace's own figures on one machine: its size, its pace, what it writes and when.

The synthetic workloads are described by an address-space size, a dirty rate and a
touched fraction; :func:`trace_figures` measures the same quantities on a recorded
trace replayed on a given page size and speed, so that a real program can be set beside
the synthetic model (the strategy map's prediction, precopy's dirtying curve):

* ``memory_bytes``: the replayed address space (the pages the program touched, laid out
  on the machine's pages; see :class:`~rhodos.workload.pagetrace.PageMap`);
* ``cpu_seconds``: one pass through the trace, ``instructions / instructions_per_s``;
* ``dirty_rate``: page writes per second -- each window's distinct written pages,
  summed over the windows, over ``cpu_seconds`` (a page written in many windows counts
  once per window: the rate at which the program re-dirties memory at the window's
  time scale, the synthetic model's ``D``);
* ``written_pages``: pages ever written (the set precopy's rounds chase: its ``W``).
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.workload.pagetrace.format import PageTrace
from rhodos.workload.pagetrace.replay import PageMap

__all__ = ["TraceFigures", "trace_figures"]


@attrs.frozen(eq=False)
class TraceFigures:
    """A trace's figures on pages of ``page_size`` at ``instructions_per_s`` (one pass).

    Attributes:
        name: the trace.
        page_size: bytes per simulated page; ``instructions_per_s``: the speed.
        pages: simulated pages of the address space; ``memory_bytes``: their bytes.
        written_pages: simulated pages ever written.
        cpu_seconds: CPU time of one pass.
        dirty_rate: page writes per second (see the module docstring).
        allocated_bytes: what the program had mapped (the recording's metadata; None
            for a trace recorded before it was kept).
        ends: each window's end, in CPU seconds from the start.
        touched: each window's simulated pages (read or written), sorted.
        written: each window's simulated pages written, sorted.
    """

    name: str
    page_size: int
    instructions_per_s: float
    pages: int
    memory_bytes: int
    written_pages: int
    cpu_seconds: float
    dirty_rate: float
    allocated_bytes: int | None
    ends: npt.NDArray[np.float64]
    touched: tuple[npt.NDArray[np.int64], ...]
    written: tuple[npt.NDArray[np.int64], ...]

    def touched_between(self, start_s: float, end_s: float = float("inf")) -> int:
        """Distinct pages referenced by the windows that end after ``start_s`` and
        start before ``end_s`` (CPU seconds from the start of a pass)."""
        begins = np.concatenate(([0.0], self.ends[:-1]))
        chosen = [
            pages
            for pages, b, e in zip(self.touched, begins, self.ends, strict=True)
            if e > start_s and b < end_s
        ]
        return int(np.unique(np.concatenate(chosen)).size) if chosen else 0


def trace_figures(trace: PageTrace, page_size: int, instructions_per_s: float) -> TraceFigures:
    """Measure ``trace`` replayed on pages of ``page_size`` at ``instructions_per_s``."""
    pagemap = PageMap.build(trace, page_size)
    touched, written = [], []
    for window in trace:
        reads = pagemap.simulated(window.reads)
        writes = pagemap.simulated(window.writes)
        touched.append(np.union1d(reads, writes))
        written.append(writes)
    ends = np.cumsum(trace.instructions.astype(np.float64)) / instructions_per_s
    cpu = float(ends[-1]) if ends.size else 0.0
    writes_total = sum(w.size for w in written)
    ever = np.unique(np.concatenate(written)).size if written else 0
    allocated = trace.meta.get("allocated_bytes")
    return TraceFigures(
        name=trace.name,
        page_size=page_size,
        instructions_per_s=instructions_per_s,
        pages=pagemap.layout.pages,
        memory_bytes=pagemap.layout.pages * page_size,
        written_pages=int(ever),
        cpu_seconds=cpu,
        dirty_rate=writes_total / cpu if cpu > 0 else 0.0,
        allocated_bytes=None if allocated is None else int(allocated),
        ends=ends,
        touched=tuple(touched),
        written=tuple(written),
    )

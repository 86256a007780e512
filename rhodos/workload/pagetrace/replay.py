"""Replay a recorded page trace as a process: the real program's memory behaviour.

Each recorded window becomes a compute burst of ``instructions / instructions_per_s``
seconds followed by one :class:`~rhodos.kernel.Touch` of exactly the pages the window
read (read references) and wrote (write references). The same trace therefore dirties
memory more slowly on a slower machine, as the real program would.

The address space holds only the pages the program touched, numbered compactly in
address order: the code segment holds the code pages, the heap segment the heap and
mapped pages, the stack segment the stack pages (:class:`PageMap`). A profile whose
page size differs from the recorded one (4 KiB on x86-64) is handled by address:

* larger pages (a Sun-3's 8 KiB): the recorded pages that share a simulated page's
  address range become that page (two 4 KiB pages per 8 KiB page), within a region;
* smaller pages (a PERQ's 512 B): each recorded page becomes the ``recorded /
  simulated`` pages that cover it, all referenced as the recorded page was. lackey
  saw which bytes were touched, but a 4 KiB trace keeps only the page, so this
  over-states the pages a 512 B machine would touch; record with ``page_size=512`` to
  replay such a machine exactly.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel import Compute, Exit, Layout, Touch
from rhodos.validators import non_negative, positive
from rhodos.workload.pagetrace.format import REGIONS, PageTrace
from rhodos.workload.program import ProgramContext, ProgramGenerator

__all__ = ["PageMap", "TraceReplay"]

I64 = npt.NDArray[np.int64]
_SEGMENT_OF_REGION = {"code": 0, "heap": 1, "mapped": 1, "stack": 2}


@attrs.frozen(eq=False)
class PageMap:
    """Where each recorded page lives in the simulated address space.

    Attributes:
        layout: the simulated address space (code, heap, stack pages).
        first: for recorded page ``i``, its first simulated page.
        span: how many simulated pages each recorded page covers (1 unless the
            simulated pages are smaller).
    """

    layout: Layout
    first: I64
    span: int

    @classmethod
    def build(cls, trace: PageTrace, page_size: int) -> PageMap:
        """Lay out ``trace``'s pages on pages of ``page_size`` bytes."""
        recorded = trace.page_size
        if page_size < 1 or page_size & (page_size - 1):
            raise ValueError(f"page_size must be a power of two, got {page_size!r}")
        group = max(1, page_size // recorded)
        span = max(1, recorded // page_size)
        segment = np.array([_SEGMENT_OF_REGION[REGIONS[r]] for r in trace.regions], dtype=np.int64)
        # Simulated page key: segment first, then address (pages of one segment only share).
        address = trace.pages.astype(np.int64) // group
        first = np.zeros(trace.pages.size, dtype=np.int64)
        sizes = [0, 0, 0]
        base = 0
        for s in range(3):
            mine = np.flatnonzero(segment == s)
            groups, index = np.unique(address[mine], return_inverse=True)
            first[mine] = base + index.reshape(-1) * span
            sizes[s] = max(1, groups.size * span)
            base += sizes[s]
        layout = Layout(code=sizes[0], heap=sizes[1], stack=sizes[2])
        return cls(layout, first, span)

    def simulated(self, recorded: npt.NDArray[np.integer]) -> I64:
        """The simulated pages (sorted, unique) covering recorded pages ``recorded``."""
        pages = self.first[recorded]
        if self.span > 1:
            pages = (pages[:, None] + np.arange(self.span, dtype=np.int64)).reshape(-1)
        return np.unique(pages)


@attrs.frozen(eq=False)
class TraceReplay:
    """A process that replays a page trace window by window.

    Attributes:
        trace: the recorded trace.
        instructions_per_s: the simulated CPU's speed, in instructions per second; by
            default the machine profile's (``MachineProfile.instructions_per_s``).
        loops: how many times to run through the trace (0: for ever).
        name: what the process is called.
    """

    trace: PageTrace
    instructions_per_s: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(positive)
    )
    loops: int = attrs.field(default=1, validator=non_negative)
    name: str = attrs.field(default="")

    def __attrs_post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"trace:{self.trace.name}")

    @property
    def memory_bytes(self) -> int:
        """The bytes of the pages the program touched."""
        return int(self.trace.pages.size) * self.trace.page_size

    def layout(self, page_size: int) -> Layout:
        """The address space on pages of ``page_size`` bytes (see :class:`PageMap`)."""
        return PageMap.build(self.trace, page_size).layout

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        pagemap = PageMap.build(self.trace, ctx.page_size)
        if ctx.layout != pagemap.layout:
            raise ValueError(
                f"{self.name} needs the layout {pagemap.layout}, the process got {ctx.layout}: "
                "start it with rhodos.system.spawn, which asks the program for its layout"
            )
        speed = self.instructions_per_s or ctx.instructions_per_s
        if speed is None:
            raise ValueError(
                f"{self.name} needs a speed: give instructions_per_s, or start it with "
                "rhodos.system.spawn, which passes the profile's"
            )
        loop = 0
        while len(self.trace) and (self.loops == 0 or loop < self.loops):
            for window in self.trace:
                yield Compute(window.instructions / speed)
                reads = pagemap.simulated(window.reads)
                writes = pagemap.simulated(window.writes)
                flags = np.zeros(reads.size + writes.size, dtype=np.bool_)
                flags[reads.size :] = True
                yield Touch(np.concatenate((reads, writes)), flags)
            loop += 1
        yield Exit(0)

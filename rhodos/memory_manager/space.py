"""Address spaces: segments and per-page numpy arrays.

An address space is three segments laid out one after the other -- code, heap/data,
stack -- and four arrays with one entry per page: ``resident`` (mapped here), ``dirty``
(written since it was last clean), ``version`` (how many reference batches have written
it: the contents, as far as the simulation is concerned) and ``location`` (where the page
is when it is not resident: a peer node id, the file server, or nowhere yet). Every
operation is on whole arrays: a batch of references, a transfer of a page set, a flush.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rhodos.kernel import FILE, HERE, INITIAL_STACK_BYTES, ZERO, Layout
from rhodos.memory_manager.requests import PageSet

__all__ = ["FILE", "HERE", "ZERO", "AddressSpace"]


class AddressSpace:
    """One process's pages as the Memory Manager of one node sees them.

    It also is the kernel's MMU view (:class:`rhodos.kernel.Pager`): :meth:`touch`
    applies a batch of references at hardware speed up to the first page that is not
    resident.
    """

    def __init__(self, pid: int, layout: Layout, *, resident: bool = True) -> None:
        self.pid = pid
        self.layout = layout
        self.segments = layout.segments()
        n = layout.pages
        self.resident = np.full(n, resident, dtype=np.bool_)
        self.dirty = np.zeros(n, dtype=np.bool_)
        self.modified = np.zeros(n, dtype=np.bool_)
        self.version = np.zeros(n, dtype=np.uint32)
        self.location = np.full(n, HERE if resident else ZERO, dtype=np.int16)
        self.referenced = np.zeros(n, dtype=np.bool_)
        #: The page last referenced in each segment (code, heap, stack): "current" pages.
        self.current = np.array([s.first for s in self.segments], dtype=np.int64)
        #: The stack pointer, as bytes of stack in use below the stack segment's end (the
        #: stack grows down from there); the program reports it with its references.
        self.stack_depth = INITIAL_STACK_BYTES
        #: How many pages a fault on a remote page brings (copy-on-reference prefetch).
        self.prefetch = 0
        #: Page writes so far (one per page per batch) and when this copy of the space
        #: began, for the write rate the auto strategy reads.
        self.writes = 0
        self.since = 0.0
        self._bounds = np.array([s.first for s in self.segments[1:]], dtype=np.int64)
        #: No page below it is resident (a cursor for :meth:`lowest_resident`).
        self._floor = 0

    @property
    def pages(self) -> int:
        """Number of pages."""
        return self.layout.pages

    def touch(
        self,
        pages: npt.NDArray[np.int64],
        writes: npt.NDArray[np.bool_],
        start: int = 0,
        stack_depth: int | None = None,
    ) -> int:
        """Apply references from ``start`` up to the first non-resident page; return how many.

        A batch writes a page's new version once, however often it writes the page --
        also when a fault split the batch and it resumes at ``start``: a page the batch
        wrote before ``start`` already has its new version. Once the batch is applied
        whole, the stack pointer moves to ``stack_depth`` (when given).
        """
        if pages.size and (pages.min() < 0 or pages.max() >= self.pages):
            raise IndexError(f"process {self.pid} referenced a page outside 0..{self.pages - 1}")
        present = self.resident[pages[start:]]
        n = int(present.size) if present.all() else int(np.argmin(present))
        if stack_depth is not None and start + n == pages.size:
            self.stack_depth = int(stack_depth)
        if n == 0:
            return 0
        applied = pages[start : start + n]
        written = applied[writes[start : start + n]]
        self.referenced[applied] = True
        if written.size:
            self.dirty[written] = True
            self.modified[written] = True
            fresh = np.setdiff1d(written, pages[:start][writes[:start]])
            self.version[fresh] += 1
            self.writes += int(fresh.size)
        segment = np.searchsorted(self._bounds, applied, side="right")
        for s in range(3):
            mine = applied[segment == s]
            if mine.size:
                self.current[s] = mine[-1]
        return n

    def used_stack_bytes(self, page_size: int) -> int:
        """Bytes of the stack pointer's page in use: from the stack pointer to the page's end.

        The stack grows down from the end of the stack segment; a depth of ``d`` bytes
        leaves the stack pointer on the page ``ceil(d / page_size)`` pages below that
        end, and the used part of that page is ``d - (ceil(d / page_size) - 1) *
        page_size``: 1,024 of a 4 KiB page for 1 KiB, 904 for 5,000 bytes. A depth
        beyond the segment stops at its bottom.
        """
        depth = min(self.stack_depth, self.segments[2].pages * page_size)
        if depth <= 0:
            return 0
        return depth - (-(-depth // page_size) - 1) * page_size

    def install(
        self,
        pages: npt.NDArray[np.int64],
        versions: npt.NDArray[np.uint32],
        dirty: npt.NDArray[np.bool_] | bool = False,
    ) -> None:
        """Make ``pages`` resident with the given contents and dirty bits."""
        if pages.size:
            self._floor = min(self._floor, int(pages.min()))
        self.resident[pages] = True
        self.version[pages] = versions
        self.location[pages] = HERE
        self.dirty[pages] = dirty
        self.modified[pages] = False

    def lowest_resident(self, count: int) -> npt.NDArray[np.int64]:
        """The ``count`` lowest resident pages (fewer when fewer are resident), in order.

        It scans from a cursor below which no page is resident, in windows of a few
        times ``count`` pages: a push that takes the lowest pages batch after batch
        reads each page's flag about once, instead of the whole space every batch.
        """
        n = self.pages
        window = max(4 * count, 4096)
        found: list[npt.NDArray[np.int64]] = []
        need = count
        pos = self._floor
        while pos < n and need > 0:
            here = np.flatnonzero(self.resident[pos : pos + window])
            if not found:  # nothing resident below pos + the first one found here
                self._floor = pos + (int(here[0]) if here.size else min(window, n - pos))
            if here.size:
                found.append(here[:need] + pos)
                need -= min(need, int(here.size))
            pos += window
        return np.concatenate(found) if found else np.empty(0, dtype=np.int64)

    def evict(self, pages: npt.NDArray[np.int64], location: int) -> None:
        """Unmap ``pages``; their contents are now at ``location``."""
        self.resident[pages] = False
        self.dirty[pages] = False
        self.modified[pages] = False
        self.location[pages] = location

    def page_map_for(self, clean: int, dirty: int) -> npt.NDArray[np.int16]:
        """The location array a destination starts from.

        Pages resident here will be found at ``clean`` or ``dirty`` (this node's id, or
        the file server, which holds every clean page); pages elsewhere stay where they
        are.
        """
        locations = self.location.copy()
        locations[self.resident & ~self.dirty] = clean
        locations[self.resident & self.dirty] = dirty
        return locations

    def select(self, which: PageSet) -> npt.NDArray[np.int64]:
        """Page numbers of a named set (see :class:`~rhodos.memory_manager.requests.PageSet`)."""
        if which is PageSet.ALL:
            return np.arange(self.pages, dtype=np.int64)
        if which is PageSet.RESIDENT:
            return np.flatnonzero(self.resident)
        if which is PageSet.DIRTY:
            return np.flatnonzero(self.dirty & self.resident)
        if which is PageSet.MODIFIED:
            return np.flatnonzero(self.modified & self.resident)
        if which is PageSet.CLEAN:
            return np.flatnonzero(self.resident & ~self.dirty)
        if which is PageSet.REFERENCED:
            return np.flatnonzero(self.referenced)
        if which is PageSet.CURRENT:
            return np.unique(self.current)
        raise TypeError(f"not a page set: {which!r} (use a PageSet)")

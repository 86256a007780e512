"""The Memory Manager's bulk transfers: page sets, page maps, pushes and flushes.

Every transfer of a page set is ONE flow, whatever its size: the pages are numpy
arrays, never one message or one event per page. A page map is region-based (8 bytes
per run of pages at one place), so sending it costs little however big the space.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel import FILE, Reply, WritePages
from rhodos.memory_manager.requests import (
    Adopt,
    CriticalBundle,
    ExportCritical,
    ExportSpace,
    Flush,
    InstallPages,
    InstallSpace,
    Invalidate,
    PageCopies,
    PageHolder,
    PageSet,
    Push,
    Relocate,
    SendPages,
)
from rhodos.memory_manager.space import AddressSpace
from rhodos.memory_manager.table import SpaceTable

__all__ = ["Transfers"]


class Transfers(SpaceTable):
    """The transfer handlers of the Memory Manager."""

    # -- page sets -----------------------------------------------------------------
    def _send_pages(self, req: SendPages) -> Generator[simpy.events.Event, Any, int | None]:
        if req.pid not in self.spaces:
            return None  # the process exited meanwhile
        return (
            yield from self.transfer(
                req.pid, req.dest, req.which, keep=req.keep, overwrite=req.overwrite
            )
        )

    def transfer(
        self,
        pid: int,
        dest: int,
        which: PageSet | npt.NDArray[np.int64],
        *,
        keep: bool,
        overwrite: bool,
    ) -> Generator[simpy.events.Event, Any, int]:
        """Send a page set to ``dest`` as one flow; see :class:`SendPages`."""
        space = self.spaces[pid]
        pages = self._pages(space, which)
        if keep:
            space.modified[pages] = False
        copies = PageCopies(pages, space.version[pages].copy(), space.dirty[pages].copy())
        yield self.node.call(
            self.peer(dest),
            InstallPages(pid, copies, overwrite),
            size_bytes=int(pages.size) * self.page_size,
            traffic="pages",
            account=pid,
        )
        if not keep and pid in self.spaces:
            still = pages[space.resident[pages]]
            space.evict(still, dest)
            self.node.free_frames(int(still.size))
            self._drop_if_empty(pid)
        self._counts["pages_sent"] += int(pages.size)
        self.log("send-pages", pid=pid, dest=dest, pages=int(pages.size), keep=keep)
        return int(pages.size)

    @staticmethod
    def _pages(
        space: AddressSpace, which: PageSet | npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """The resident pages of a named set or an array of page numbers."""
        pages = space.select(which) if isinstance(which, PageSet) else np.asarray(which)
        return pages[space.resident[pages]]

    def _install_pages(self, req: InstallPages) -> int:
        space = self.spaces.get(req.pid)
        if space is None:
            return 0  # the process exited here while the pages were on their way
        pages, versions, dirty = req.copies.pages, req.copies.versions, req.copies.dirty
        fresh = ~space.resident[pages]
        if not req.overwrite:
            pages, versions, dirty = pages[fresh], versions[fresh], dirty[fresh]
            fresh = np.ones(pages.size, dtype=np.bool_)
        self.node.allocate_frames(int(fresh.sum()))
        space.install(pages, versions, dirty)
        self._counts["pages_received"] += int(pages.size)
        return int(pages.size)

    def _push(self, req: Push) -> Generator[simpy.events.Event, Any, int]:
        pid, dest, rate = req.pid, req.dest, req.rate
        pushed = 0
        while pid in self.spaces:
            chunk = self.spaces[pid].lowest_resident(max(1, int(req.batch)))
            if not chunk.size:
                break
            began = self.env.now
            pushed += yield from self.transfer(pid, dest, chunk, keep=False, overwrite=False)
            if rate > 0:
                pause = chunk.size / rate - (self.env.now - began)
                if pause > 0:
                    yield self.env.timeout(pause)
        self.log("push-done", pid=pid, pages=pushed)
        return pushed

    def _flush(self, req: Flush) -> Generator[simpy.events.Event, Any, int | None]:
        pid = req.pid
        space = self.spaces.get(pid)
        if space is None:
            # The process exited (its destination released this copy, or it ended here
            # before it could be frozen): nothing is left to flush.
            self.log("flush-skipped", pid=pid, reason="no address space here")
            return None
        pages = self._pages(space, req.which)
        yield self.node.call(
            self._file_port(),
            WritePages(pid, space.pages, pages, space.version[pages].astype(np.int64)),
            size_bytes=int(pages.size) * self.page_size,
            traffic="flush",
            account=pid,
        )
        space.dirty[pages] = False
        self._counts["pages_flushed"] += int(pages.size)
        self.log("flush", pid=pid, pages=int(pages.size))
        return int(pages.size)

    # -- page maps -----------------------------------------------------------------
    def _export_space(self, req: ExportSpace) -> Generator[simpy.events.Event, Any, int | None]:
        pid = req.pid
        space = self.spaces.get(pid)
        if space is None:
            return None  # the process exited meanwhile
        if req.dirty is PageHolder.FILE and (space.dirty & space.resident).any():
            raise RuntimeError(
                f"process {pid}: exporting pages to the file server's care while "
                f"{int((space.dirty & space.resident).sum())} are dirty (flush them first)"
            )
        where = {PageHolder.SOURCE: self.node.node_id, PageHolder.FILE: FILE}
        locations = space.page_map_for(where[req.clean], where[req.dirty])
        size = self.page_map_bytes(locations)
        yield self.node.call(
            self.peer(req.dest),
            InstallSpace(pid, space.layout, locations, req.prefetch, space.stack_depth),
            size_bytes=size,
            traffic="state",
            account=pid,
        )
        return size

    def _install_space(self, req: InstallSpace) -> int:
        pid, layout = req.pid, req.layout
        space = AddressSpace(pid, layout, resident=False)
        space.since = float(self.env.now)
        space.location[:] = req.locations
        space.prefetch = req.prefetch
        space.stack_depth = req.stack_depth
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self.log("install-space", pid=pid, pages=layout.pages)
        return layout.pages

    def _export_critical(self, req: ExportCritical) -> Reply | None:
        pid, dest = req.pid, req.dest
        space = self.spaces.get(pid)
        if space is None:
            return None  # the process exited meanwhile
        here = self.node.node_id
        locations = space.page_map_for(here, here)
        pages = space.select(PageSet.CURRENT)
        pages = pages[space.resident[pages]]
        copies = PageCopies(pages, space.version[pages].copy(), space.dirty[pages].copy())
        code, heap, stack = (int(p) for p in space.current)
        sent = set(pages.tolist())
        full = sum(1 for p in (code, heap) if p in sent)
        used = space.used_stack_bytes(self.page_size) if stack in sent else 0
        size = self.page_map_bytes(locations) + full * self.page_size + used
        bundle = CriticalBundle(
            space.layout, locations, copies, space.prefetch, size, space.stack_depth
        )
        space.evict(pages, dest)
        self.node.free_frames(int(pages.size))
        self._counts["pages_sent"] += int(pages.size)
        self.log("export-critical", pid=pid, dest=dest, pages=int(pages.size), bytes=size)
        return Reply(body=bundle, size_bytes=size, traffic="state")

    def _adopt(self, req: Adopt) -> int:
        pid, bundle = req.pid, req.bundle
        copies = bundle.copies
        space = AddressSpace(pid, bundle.layout, resident=False)
        space.since = float(self.env.now)
        space.location[:] = bundle.locations
        space.prefetch = bundle.prefetch
        space.stack_depth = bundle.stack_depth
        self.node.allocate_frames(int(copies.pages.size))
        space.install(copies.pages, copies.versions, copies.dirty)
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self._counts["pages_received"] += int(copies.pages.size)
        self.log("adopt", pid=pid, pages=int(copies.pages.size))
        return int(copies.pages.size)

    def _invalidate(self, req: Invalidate) -> int:
        space = self.spaces.get(req.pid)
        if space is None:
            return 0
        pages = np.asarray(req.pages, dtype=np.int64)
        stale = pages[space.resident[pages]]
        space.evict(stale, req.holder)
        self.node.free_frames(int(stale.size))
        self.log("invalidate", pid=req.pid, pages=int(stale.size), holder=req.holder)
        return int(stale.size)

    def _relocate(self, req: Relocate) -> int:
        space = self.spaces.get(req.pid)
        if space is None:
            return 0
        moved = (~space.resident) & (space.location == req.old)
        space.location[moved] = req.new
        self.log("relocate", pid=req.pid, pages=int(moved.sum()), old=req.old, new=req.new)
        return int(moved.sum())

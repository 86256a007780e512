"""The Memory Manager server: address spaces, page faults, page transfers, flushing.

One per node. Its private table maps pid -> :class:`AddressSpace` for the processes
whose pages it holds -- the process running here, or, after a lazy migration, a
process that left and still fetches pages from here (a residual dependency). Its
requests are declared in :mod:`rhodos.memory_manager.requests`, each with who sends it
and what it replies; the dispatch table below maps them to the handlers.

A request about a process whose space is no longer here (``SendPages``,
``ExportSpace``, ``Describe``) answers ``None``: the process exited while a migration
was preparing; an ``InstallPages`` still on its way when the process exited here
installs nothing.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

import attrs
import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel import (
    FILE,
    HERE,
    ZERO,
    Handler,
    Node,
    PageFault,
    ReadPages,
    Reply,
    Request,
    Server,
    WritePages,
)
from rhodos.memory_manager.requests import (
    Adopt,
    Create,
    CriticalBundle,
    Describe,
    ExportCritical,
    ExportSpace,
    Fetch,
    Flush,
    Free,
    InstallPages,
    InstallSpace,
    PageCopies,
    PageHolder,
    PageSet,
    Push,
    Release,
    Relocate,
    SendPages,
    SpaceInfo,
    WaitReleased,
)
from rhodos.memory_manager.space import AddressSpace

__all__ = ["MemoryManager", "MemoryStatistics", "SpaceView"]

Array = TypeVar("Array", bound=np.ndarray)


@attrs.frozen
class MemoryStatistics:
    """Counters of one Memory Manager."""

    spaces: int
    faults_local: int
    faults_remote: int
    faults_file: int
    pages_sent: int
    pages_received: int
    pages_served: int
    pages_flushed: int


def _read_only(array: Array) -> Array:
    copy = array.copy()
    copy.flags.writeable = False
    return copy


@attrs.frozen(eq=False)
class SpaceView:
    """One address space as one Memory Manager holds it at one instant: read-only copies of
    its page arrays, for the checkers of :mod:`rhodos.testing`."""

    pid: int
    pages: int
    resident: npt.NDArray[np.bool_]
    dirty: npt.NDArray[np.bool_]
    version: npt.NDArray[np.uint32]
    location: npt.NDArray[np.int16]
    current: npt.NDArray[np.int64]
    prefetch: int


class MemoryManager(Server):
    """Owns the address spaces of the processes on (or depending on) its node."""

    role = "memory"

    def __init__(self, node: Node) -> None:
        self.spaces: dict[int, AddressSpace] = {}
        self._released: dict[int, simpy.Event] = {}
        self._counts = dict.fromkeys(
            (
                "faults_local",
                "faults_remote",
                "faults_file",
                "pages_sent",
                "pages_received",
                "pages_served",
                "pages_flushed",
            ),
            0,
        )
        super().__init__(node)

    def handlers(self) -> dict[type[Request], Handler]:
        return {
            Create: self._create,
            PageFault: self._fault,
            Fetch: self._fetch,
            SendPages: self._send_pages,
            InstallPages: self._install_pages,
            InstallSpace: self._install_space,
            ExportSpace: self._export_space,
            ExportCritical: self._export_critical,
            Adopt: self._adopt,
            Relocate: self._relocate,
            Push: self._push,
            Flush: self._flush,
            Describe: self._describe,
            WaitReleased: self._wait_released,
            Free: self._free,
            Release: self._release,
        }

    # -- lifecycle -----------------------------------------------------------------
    def _create(self, req: Create) -> int:
        pid, layout = req.pid, req.layout
        self.node.allocate_frames(layout.pages)
        space = AddressSpace(pid, layout, resident=True)
        space.since = float(self.env.now)
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self.log("create", pid=pid, pages=layout.pages)
        return layout.pages

    def _free(self, req: Free) -> int:
        """Drop the space. At the process's exit (``at_exit``) the peers still holding
        residual copies of its pages are told to release them; a migration's source
        dropping its leftovers tells nobody (its peers hold the live process)."""
        pid = req.pid
        space = self.spaces.pop(pid, None)
        if space is None:
            return 0
        self.node.free_frames(int(space.resident.sum()))
        self.node.detach_pager(pid)
        if req.at_exit:
            peers = np.unique(space.location[~space.resident & (space.location >= 0)])
            for peer in peers.tolist():
                if peer != self.node.node_id:
                    self.node.send(self.peer(int(peer)), Release(pid), account=pid)
        self.log("free", pid=pid)
        self._signal_released(pid)
        return space.pages

    def _release(self, req: Release) -> None:
        """A residual copy is no longer needed: drop it (never the live process's space)."""
        pid = req.pid
        space = self.spaces.get(pid)
        if space is not None and not self._lives_here(pid):
            self.node.free_frames(int(space.resident.sum()))
            self.spaces.pop(pid)
            self.node.detach_pager(pid)
            self.log("residual-end", pid=pid, reason="released")
            self._signal_released(pid)

    def _wait_released(self, req: WaitReleased) -> Generator[simpy.events.Event, Any, float]:
        pid = req.pid
        self._drop_if_empty(pid)  # a copy with nothing left to serve is no dependency
        if pid in self.spaces:
            event = self._released.get(pid)
            if event is None:
                event = self._released[pid] = self.env.event()
            yield event
        return float(self.env.now)

    def _describe(self, req: Describe) -> SpaceInfo | None:
        return self.space_info(req.pid) if req.pid in self.spaces else None

    # -- the table -----------------------------------------------------------------
    @property
    def page_size(self) -> int:
        """Bytes per page on this node's profile."""
        return self.node.profile.page_size_bytes

    def statistics(self) -> MemoryStatistics:
        """A frozen snapshot of this Memory Manager's counters."""
        return MemoryStatistics(spaces=len(self.spaces), **self._counts)

    def space_info(self, pid: int) -> SpaceInfo:
        """Describe ``pid``'s address space held here."""
        space = self.spaces[pid]
        return SpaceInfo(
            pid=pid,
            layout=space.layout,
            pages=space.pages,
            resident=int(space.resident.sum()),
            dirty=int((space.dirty & space.resident).sum()),
            referenced=int(space.referenced.sum()),
            modified=int((space.modified & space.resident).sum()),
            remote=int((~space.resident & (space.location >= 0)).sum()),
            current=tuple(int(p) for p in space.current),
            write_rate=space.writes / max(self.env.now - space.since, 1e-9),
        )

    def snapshot(self, pid: int) -> SpaceView | None:
        """``pid``'s space held here, read-only (``None``: none); for :mod:`rhodos.testing`."""
        space = self.spaces.get(pid)
        if space is None:
            return None
        return SpaceView(
            pid=pid,
            pages=space.pages,
            resident=_read_only(space.resident),
            dirty=_read_only(space.dirty),
            version=_read_only(space.version),
            location=_read_only(space.location),
            current=_read_only(space.current),
            prefetch=space.prefetch,
        )

    def page_map_bytes(self, space: AddressSpace) -> int:
        """Size of a page map on the wire: a header and 8 bytes per run of pages at one place.

        Maps are region-based (as Accent's and Mach's are): a fresh address space is
        three runs whatever its size; a map after lazy migrations has more.
        """
        runs = 1 + int(np.count_nonzero(np.diff(space.location)))
        return 64 + 8 * runs

    def _lives_here(self, pid: int) -> bool:
        """The process runs on this node (its space here is not a residual copy)."""
        return self.node.location_of(pid) == self.node.node_id

    def _file_port(self) -> int:
        """The file server's port."""
        return self.node.role_port("file", self.node.file_server())

    def _drop_if_empty(self, pid: int) -> None:
        """A residual copy with nothing left to serve is dropped (the dependency ends)."""
        space = self.spaces.get(pid)
        if space is not None and not space.resident.any() and not self._lives_here(pid):
            self.spaces.pop(pid)
            self.node.detach_pager(pid)
            self.log("residual-end", pid=pid, reason="empty")
            self._signal_released(pid)

    def _signal_released(self, pid: int) -> None:
        event = self._released.pop(pid, None)
        if event is not None:
            event.succeed()

    # -- faults --------------------------------------------------------------------

    def _fault(self, req: PageFault) -> Generator[simpy.events.Event, Any, str]:
        space, page = self.spaces[req.pid], req.page
        source = "local"
        while not space.resident[page]:
            where = int(space.location[page])
            if where in (ZERO, HERE):
                self.node.allocate_frames(1)
                space.install(np.array([page]), np.zeros(1, dtype=np.uint32))
                self._counts["faults_local"] += 1
                return source
            if where == FILE:
                yield from self._fault_from_file(space, page)
                return "file"
            yield from self._fault_from_peer(space, page, where)
            source = "remote"
        return source

    def _fault_from_file(
        self, space: AddressSpace, page: int
    ) -> Generator[simpy.events.Event, Any, None]:
        reply = yield self.node.call(
            self._file_port(), ReadPages(space.pid, np.array([page])), account=space.pid
        )
        versions = np.maximum(reply.body, 0).astype(np.uint32)
        if not space.resident[page]:
            self.node.allocate_frames(1)
            space.install(np.array([page]), versions)
        self._counts["faults_file"] += 1
        self.log("fault", pid=space.pid, page=page, source="file")

    def _fault_from_peer(
        self, space: AddressSpace, page: int, where: int
    ) -> Generator[simpy.events.Event, Any, None]:
        """One round trip to the peer holding the page (plus prefetch).

        If the peer no longer holds it (it flushed and released it meanwhile), nothing
        comes back and the caller looks again at where the page now is.
        """
        wanted = self._with_prefetch(space, page, where)
        reply = yield self.node.call(self.peer(where), Fetch(space.pid, wanted), account=space.pid)
        copies: PageCopies = reply.body
        fresh = ~space.resident[copies.pages]
        pages, versions, dirty = copies.pages[fresh], copies.versions[fresh], copies.dirty[fresh]
        self.node.allocate_frames(int(pages.size))
        space.install(pages, versions, dirty)
        self._counts["faults_remote"] += 1
        self._counts["pages_received"] += int(pages.size)
        self.log("fault", pid=space.pid, page=page, source=where, pages=int(pages.size))
        if pages.size == 0 and int(space.location[page]) == where:
            # The peer released the page but the relocation notice has not come yet.
            yield self.env.timeout(self.node.profile.network_latency_s)

    def _with_prefetch(self, space: AddressSpace, page: int, where: int) -> np.ndarray:
        """The faulting page plus up to ``prefetch`` following pages held at the same place."""
        if space.prefetch <= 0:
            return np.array([page], dtype=np.int64)
        stop = min(space.pages, page + 1 + space.prefetch)
        after = np.arange(page + 1, stop, dtype=np.int64)
        after = after[~space.resident[after] & (space.location[after] == where)]
        return np.concatenate(([page], after))

    def _fetch(self, req: Fetch) -> Reply:
        pid = req.pid
        space = self.spaces.get(pid)
        if space is None:
            self.log("fetch-miss", pid=pid)
            return Reply(body=PageCopies.none())
        pages = req.pages[space.resident[req.pages]]
        copies = PageCopies(pages, space.version[pages].copy(), space.dirty[pages].copy())
        space.evict(pages, ZERO)
        self.node.free_frames(int(pages.size))
        self._counts["pages_served"] += int(pages.size)
        self.log("serve", pid=pid, pages=int(pages.size))
        self._drop_if_empty(pid)
        return Reply(body=copies, size_bytes=int(pages.size) * self.page_size, traffic="pages")

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
        while pid in self.spaces and self.spaces[pid].resident.any():
            began = self.env.now
            chunk = self.spaces[pid].select(PageSet.RESIDENT)[: max(1, int(req.batch))]
            pushed += yield from self.transfer(pid, dest, chunk, keep=False, overwrite=False)
            if rate > 0:
                pause = chunk.size / rate - (self.env.now - began)
                if pause > 0:
                    yield self.env.timeout(pause)
        self.log("push-done", pid=pid, pages=pushed)
        return pushed

    def _flush(self, req: Flush) -> Generator[simpy.events.Event, Any, int]:
        pid = req.pid
        space = self.spaces[pid]
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
        size = self.page_map_bytes(space)
        yield self.node.call(
            self.peer(req.dest),
            InstallSpace(pid, space.layout, locations, req.prefetch),
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
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self.log("install-space", pid=pid, pages=layout.pages)
        return layout.pages

    def _export_critical(self, req: ExportCritical) -> Reply:
        pid, dest = req.pid, req.dest
        space = self.spaces[pid]
        here = self.node.node_id
        locations = space.page_map_for(here, here)
        pages = space.select(PageSet.CURRENT)
        pages = pages[space.resident[pages]]
        copies = PageCopies(pages, space.version[pages].copy(), space.dirty[pages].copy())
        code, heap, _stack = (int(p) for p in space.current)
        full = sum(1 for p in (code, heap) if p in set(pages.tolist()))
        size = self.page_map_bytes(space) + full * self.page_size + int(req.stack_bytes)
        bundle = CriticalBundle(space.layout, locations, copies, space.prefetch, size)
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
        self.node.allocate_frames(int(copies.pages.size))
        space.install(copies.pages, copies.versions, copies.dirty)
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self._counts["pages_received"] += int(copies.pages.size)
        self.log("adopt", pid=pid, pages=int(copies.pages.size))
        return int(copies.pages.size)

    def _relocate(self, req: Relocate) -> int:
        space = self.spaces.get(req.pid)
        if space is None:
            return 0
        moved = (~space.resident) & (space.location == req.old)
        space.location[moved] = req.new
        self.log("relocate", pid=req.pid, pages=int(moved.sum()), old=req.old, new=req.new)
        return int(moved.sum())

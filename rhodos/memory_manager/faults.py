"""The Memory Manager's page faults: resolved locally, from a peer, or from the file server.

A fault on a page never written is zero-filled here; a page a peer holds (the source of
a lazy migration) comes back in one round trip, with up to ``prefetch`` following pages
held at the same place; a page on the file server is read from it. The peer's side of a
remote fault is :meth:`Faults._fetch`: the pages leave it, and count as held there until
its reply has arrived, so a residual dependency never ends with a page on the wire.

A page located at a peer that does not hold it, or at this node without being resident,
is lost: no protocol step can bring it back. The fault then fails with a clear
:class:`~rhodos.kernel.Failure` (and a ``page-lost`` event), and the kernel reports the
process lost, instead of asking again for ever.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel import (
    FILE,
    HERE,
    ZERO,
    Failure,
    Message,
    PageFault,
    ReadPages,
    Reply,
    RequestFailed,
)
from rhodos.memory_manager.requests import Fetch, PageCopies
from rhodos.memory_manager.space import AddressSpace
from rhodos.memory_manager.table import SpaceTable

__all__ = ["FILE_SERVER_WAIT_S", "Faults"]

#: How long a page fault waits for a crashed file server to come back before the
#: process it stalls is given up (simulated seconds).
FILE_SERVER_WAIT_S = 60.0


class Faults(SpaceTable):
    """The fault handlers of the Memory Manager."""

    def _fault(self, req: PageFault) -> Generator[simpy.events.Event, Any, str | Failure]:
        space, page = self.spaces.get(req.pid), req.page
        if space is None:
            return self._lost(req.pid, page, f"node {self.node.node_id} holds no address space")
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
            if where == self.node.node_id:
                return self._lost(req.pid, page, f"located at node {where}, where it runs")
            yield from self._fault_from_peer(space, page, where)
            if not space.resident[page] and int(space.location[page]) == where:
                return self._lost(req.pid, page, f"located at node {where}, which does not hold it")
            source = "remote"
        return source

    def _lost(self, pid: int, page: int, why: str) -> Failure:
        self.log("page-lost", pid=pid, page=page, why=why)
        return Failure("fault", f"page {page} of process {pid} is lost: {why}")

    def _fault_from_file(
        self, space: AddressSpace, page: int
    ) -> Generator[simpy.events.Event, Any, None]:
        wanted = self._with_prefetch(space, page, FILE)
        reply = yield from self._read_file(space.pid, wanted)
        versions = np.maximum(reply.body, 0).astype(np.uint32)
        fresh = ~space.resident[wanted]
        self.node.allocate_frames(int(fresh.sum()))
        space.install(wanted[fresh], versions[fresh])
        self._counts["faults_file"] += 1
        if wanted.size == 1:
            self.log("fault", pid=space.pid, page=page, source="file")
        else:
            self.log("fault", pid=space.pid, page=page, source="file", pages=int(wanted.size))

    def _read_file(
        self, pid: int, pages: npt.NDArray[np.int64]
    ) -> Generator[simpy.events.Event, Any, Message]:
        """Read pages from the file server. When it has crashed, wait for it to come back
        -- its disk keeps the pages -- asking again after the request timeout, then
        twice as long each time, for at most :data:`FILE_SERVER_WAIT_S`."""
        waited = 0.0
        while True:
            try:
                reply: Message = yield self.node.call(
                    self._file_port(), ReadPages(pid, pages), account=pid
                )
                return reply
            except RequestFailed as failed:
                detection = self.node.detection
                crashed = failed.failure.crashed
                if detection is None or crashed != self.node.file_server():
                    raise
                if waited >= FILE_SERVER_WAIT_S:
                    raise
                pause = max(detection.request_timeout_s, waited)
                self.log("file-server-wait", pid=pid, pause=pause)
                yield self.env.timeout(pause)
                waited += pause

    def _fault_from_peer(
        self, space: AddressSpace, page: int, where: int
    ) -> Generator[simpy.events.Event, Any, None]:
        """One round trip to the peer holding the page (plus prefetch).

        If the peer no longer holds it (it flushed it and let go, and this node was told
        the page's new place meanwhile), nothing comes back and the caller looks again at
        where the page now is.
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
        if pages.size == 0:
            self._drop_if_empty(pid)
            return Reply(body=copies, size_bytes=0, traffic="pages")
        self._sent_away(pid)  # held here until the reply arrives
        return Reply(
            body=copies,
            size_bytes=int(pages.size) * self.page_size,
            traffic="pages",
            on_delivery=lambda: self._arrived(pid),
        )

"""The Memory Manager server: address spaces, page faults, page transfers, flushing.

One per node. Its private table maps pid -> :class:`AddressSpace` for the processes
whose pages it holds -- the process running here, or, after a lazy migration, a
process that left and still fetches pages from here (a residual dependency).

Requests (kind -> what it does):

* ``create`` (pid, layout): a new, fully resident address space.
* ``fault`` (pid, page, write): resolve a fault on this node: zero-fill, fetch from the
  peer that has the page (one round trip, plus ``prefetch`` pages), or read it from the
  file server. Replies where it came from: ``local``, ``remote`` or ``file``.
* ``fetch`` (pid, pages): a peer asks for pages; they leave this node.
* ``send_pages`` (pid, dest, which): move a page set to the Memory Manager on ``dest``
  as ONE flow (``install_pages`` there); the pages stop being resident here.
* ``install_pages`` (pid, pages, versions): a peer's pages arrive.
* ``install_space`` (pid, layout, source, prefetch): an empty address space whose
  pages are all at ``source`` (a node id, or the file server).
* ``flush`` (pid, which): write a page set to the file server (one flow); the pages
  then live there.
* ``describe`` (pid): layout, counts, current pages (for negotiation and strategies).
* ``free`` (pid): drop the address space (process exit, or nothing left to serve).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import numpy as np
import simpy

from rhodos.kernel import Handler, Layout, Message, Node, Reply, Server
from rhodos.memory_manager.space import FILE, HERE, ZERO, AddressSpace

__all__ = ["MemoryManager", "MemoryStatistics", "SpaceInfo"]


@attrs.frozen
class SpaceInfo:
    """A snapshot of one address space, as ``describe`` answers it."""

    pid: int
    layout: Layout
    pages: int
    resident: int
    dirty: int
    referenced: int
    remote: int
    current: tuple[int, ...]


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


class MemoryManager(Server):
    """Owns the address spaces of the processes on (or depending on) its node."""

    role = "memory"

    def __init__(self, node: Node) -> None:
        self.spaces: dict[int, AddressSpace] = {}
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

    def handlers(self) -> dict[str, Handler]:
        return {
            "create": self._create,
            "fault": self._fault,
            "fetch": self._fetch,
            "send_pages": self._send_pages,
            "install_pages": self._install_pages,
            "install_space": self._install_space,
            "flush": self._flush,
            "describe": self._describe,
            "free": self._free,
        }

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
            remote=int((~space.resident & (space.location >= 0)).sum()),
            current=tuple(int(p) for p in space.current),
        )

    # -- lifecycle -----------------------------------------------------------------
    def _create(self, msg: Message) -> int:
        pid, layout = msg.body
        self.node.allocate_frames(layout.pages)
        space = AddressSpace(pid, layout, resident=True)
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self.log("create", pid=pid, pages=layout.pages)
        return layout.pages

    def _install_space(self, msg: Message) -> int:
        pid, layout, source, prefetch = msg.body
        space = AddressSpace(pid, layout, resident=False)
        space.location[:] = source
        space.prefetch = prefetch
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self.log("install-space", pid=pid, pages=layout.pages, source=source)
        return layout.pages

    def _free(self, msg: Message) -> int:
        pid = msg.body
        space = self.spaces.pop(pid, None)
        if space is None:
            return 0
        self.node.free_frames(int(space.resident.sum()))
        self.node.detach_pager(pid)
        self.log("free", pid=pid)
        return space.pages

    def _describe(self, msg: Message) -> SpaceInfo | None:
        pid = msg.body
        return self.space_info(pid) if pid in self.spaces else None

    # -- faults --------------------------------------------------------------------
    def _fault(self, msg: Message) -> Generator[simpy.events.Event, Any, str]:
        pid, page, _write = msg.body
        space = self.spaces[pid]
        where = int(space.location[page])
        if space.resident[page]:
            return "local"
        if where == ZERO or where == HERE:
            self.node.allocate_frames(1)
            space.install(np.array([page]), np.zeros(1, dtype=np.uint32))
            self._counts["faults_local"] += 1
            return "local"
        if where == FILE:
            reply = yield self.node.call(
                self.node.cluster.role_port(self._file_node(), "file"),
                "read",
                (pid, np.array([page])),
            )
            versions = np.maximum(reply.body, 0).astype(np.uint32)
            self.node.allocate_frames(1)
            space.install(np.array([page]), versions)
            self._counts["faults_file"] += 1
            self.log("fault", pid=pid, page=page, source="file")
            return "file"
        wanted = self._with_prefetch(space, page, where)
        reply = yield self.node.call(self.peer(where), "fetch", (pid, wanted))
        pages, versions = reply.body
        self.node.allocate_frames(int(pages.size))
        space.install(pages, versions)
        self._counts["faults_remote"] += 1
        self._counts["pages_received"] += int(pages.size)
        self.log("fault", pid=pid, page=page, source=where, pages=int(pages.size))
        return "remote"

    def _with_prefetch(self, space: AddressSpace, page: int, where: int) -> np.ndarray:
        """The faulting page plus up to ``prefetch`` following pages held at the same place."""
        if space.prefetch <= 0:
            return np.array([page], dtype=np.int64)
        stop = min(space.pages, page + 1 + space.prefetch)
        after = np.arange(page + 1, stop, dtype=np.int64)
        after = after[~space.resident[after] & (space.location[after] == where)]
        return np.concatenate(([page], after))

    def _fetch(self, msg: Message) -> Reply:
        pid, pages = msg.body
        space = self.spaces[pid]
        pages = pages[space.resident[pages]]
        versions = space.version[pages].copy()
        space.evict(pages, ZERO)
        self.node.free_frames(int(pages.size))
        self._counts["pages_served"] += int(pages.size)
        self.log("serve", pid=pid, pages=int(pages.size))
        if not space.resident.any():
            self._drop_if_empty(pid)
        return Reply(body=(pages, versions), size_bytes=int(pages.size) * self.page_size,
                     traffic="pages")

    def _drop_if_empty(self, pid: int) -> None:
        """A residual copy with nothing left to serve is dropped (the dependency ends)."""
        space = self.spaces.get(pid)
        if space is not None and not space.resident.any() and self.node.threads.get(pid) is None:
            self.spaces.pop(pid)
            self.node.detach_pager(pid)
            self.log("residual-end", pid=pid)

    # -- bulk transfers ------------------------------------------------------------
    def _send_pages(self, msg: Message) -> Generator[simpy.events.Event, Any, int]:
        pid, dest, which = msg.body
        space = self.spaces[pid]
        pages = space.select(which) if isinstance(which, str) else np.asarray(which)
        pages = pages[space.resident[pages]]
        versions = space.version[pages].copy()
        yield self.node.call(
            self.peer(dest),
            "install_pages",
            (pid, pages, versions),
            size_bytes=int(pages.size) * self.page_size,
            traffic="pages",
        )
        space.evict(pages, dest)
        self.node.free_frames(int(pages.size))
        self._counts["pages_sent"] += int(pages.size)
        self.log("send-pages", pid=pid, dest=dest, pages=int(pages.size))
        return int(pages.size)

    def _install_pages(self, msg: Message) -> int:
        pid, pages, versions = msg.body
        space = self.spaces[pid]
        fresh = pages[~space.resident[pages]]
        self.node.allocate_frames(int(fresh.size))
        space.install(pages, versions)
        self._counts["pages_received"] += int(pages.size)
        return int(pages.size)

    def _flush(self, msg: Message) -> Generator[simpy.events.Event, Any, int]:
        pid, which = msg.body
        space = self.spaces[pid]
        pages = space.select(which) if isinstance(which, str) else np.asarray(which)
        pages = pages[space.resident[pages]]
        yield self.node.call(
            self.node.cluster.role_port(self._file_node(), "file"),
            "write",
            (pid, space.pages, pages, space.version[pages].astype(np.int64)),
            size_bytes=int(pages.size) * self.page_size,
            traffic="flush",
        )
        space.dirty[pages] = False
        self._counts["pages_flushed"] += int(pages.size)
        self.log("flush", pid=pid, pages=int(pages.size))
        return int(pages.size)

    def _file_node(self) -> int:
        servers = self.node.cluster.file_server_nodes
        if not servers:
            raise RuntimeError("this cluster has no file server (ClusterConfig.file_servers=0)")
        return servers[0].node_id

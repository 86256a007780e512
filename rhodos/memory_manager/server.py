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
* ``send_pages`` (pid, dest, which[, keep, overwrite]): move (or, with ``keep``, copy)
  a page set to the Memory Manager on ``dest`` as ONE flow (``install_pages`` there).
  A move unmaps the pages here; a copy keeps them and clears their ``modified`` bits
  (precopy rounds). ``overwrite`` lets the copies replace pages already resident there.
* ``install_pages`` (pid, pages, versions[, dirty, overwrite]): a peer's pages arrive.
* ``export_space`` (pid, dest, (clean, dirty), prefetch): send the page map to ``dest``:
  clean and dirty pages resident here will be found at ``"source"`` (this node) or
  ``"file"`` (the file server; only clean pages may go there); the map is region-based,
  8 bytes per run of pages at one place.
* ``install_space`` (pid, layout, locations, prefetch): an empty address space whose
  pages are at ``locations`` (one node id or FILE for all, or an array).
* ``export_critical`` (pid, dest, stack_bytes): the freeze-free bundle -- page map plus
  the current code, heap and stack pages -- handed back to the caller (no network);
  those pages now belong to ``dest``.
* ``adopt`` (pid, bundle): install a freeze-free bundle.
* ``relocate`` (pid, old, new): pages expected at ``old`` are now at ``new``.
* ``push`` (pid, dest, rate, batch): move every resident page to ``dest`` in batches of
  ``batch`` pages at ``rate`` pages/s (0: as fast as the network goes).
* ``flush`` (pid, which): write a page set to the file server (one flow); they are clean.
* ``describe`` (pid): layout, counts, current pages (for negotiation and strategies).
* ``wait_released`` (pid): answer once this node holds nothing of ``pid`` any more.
* ``free`` (pid) or (pid, at_exit): drop the address space; at the process's exit, tell
  the peers still holding residual copies of its pages to ``release`` them.
* ``release`` (pid): drop a residual copy (never the space of a process living here).

A request about a process whose space is no longer here (``send_pages``, ``export_space``,
``describe``) answers ``None``: the process exited while a migration was preparing; an
``install_pages`` still on its way when the process exited here installs nothing.
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
    modified: int
    remote: int
    current: tuple[int, ...]
    #: Page writes per second since the space came to this node (one per page per batch).
    write_rate: float = 0.0


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

    def handlers(self) -> dict[str, Handler]:
        return {
            "create": self._create,
            "fault": self._fault,
            "fetch": self._fetch,
            "send_pages": self._send_pages,
            "install_pages": self._install_pages,
            "install_space": self._install_space,
            "export_space": self._export_space,
            "export_critical": self._export_critical,
            "adopt": self._adopt,
            "relocate": self._relocate,
            "push": self._push,
            "flush": self._flush,
            "describe": self._describe,
            "wait_released": self._wait_released,
            "free": self._free,
            "release": self._release,
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
            modified=int((space.modified & space.resident).sum()),
            remote=int((~space.resident & (space.location >= 0)).sum()),
            current=tuple(int(p) for p in space.current),
            write_rate=space.writes / max(self.env.now - space.since, 1e-9),
        )

    # -- lifecycle -----------------------------------------------------------------
    def _create(self, msg: Message) -> int:
        pid, layout = msg.body
        self.node.allocate_frames(layout.pages)
        space = AddressSpace(pid, layout, resident=True)
        space.since = float(self.env.now)
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self.log("create", pid=pid, pages=layout.pages)
        return layout.pages

    def _install_space(self, msg: Message) -> int:
        pid, layout, locations, prefetch = msg.body
        space = AddressSpace(pid, layout, resident=False)
        space.since = float(self.env.now)
        space.location[:] = locations
        space.prefetch = prefetch
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self.log("install-space", pid=pid, pages=layout.pages)
        return layout.pages

    def _export_space(self, msg: Message) -> Generator[simpy.events.Event, Any, int | None]:
        pid, dest, (clean, dirty), prefetch = msg.body
        space = self.spaces.get(pid)
        if space is None:
            return None  # the process exited meanwhile
        if dirty == "file" and (space.dirty & space.resident).any():
            raise RuntimeError(
                f"process {pid}: exporting pages to the file server's care while "
                f"{int((space.dirty & space.resident).sum())} are dirty (flush them first)"
            )
        where = {"source": self.node.node_id, "file": FILE}
        locations = space.page_map_for(where[clean], where[dirty])
        size = self.page_map_bytes(space)
        yield self.node.call(
            self.peer(dest),
            "install_space",
            (pid, space.layout, locations, prefetch),
            size_bytes=size,
            traffic="state",
            account=pid,
        )
        return size

    def page_map_bytes(self, space: AddressSpace) -> int:
        """Size of a page map on the wire: a header and 8 bytes per run of pages at one place.

        Maps are region-based (as Accent's and Mach's are): a fresh address space is
        three runs whatever its size; a map after lazy migrations has more.
        """
        runs = 1 + int(np.count_nonzero(np.diff(space.location)))
        return 64 + 8 * runs

    def _export_critical(self, msg: Message) -> Reply:
        pid, dest, stack_bytes = msg.body
        space = self.spaces[pid]
        here = self.node.node_id
        locations = space.page_map_for(here, here)
        pages = space.select("current")
        pages = pages[space.resident[pages]]
        bundle = (
            space.layout,
            locations,
            pages,
            space.version[pages].copy(),
            space.dirty[pages].copy(),
            space.prefetch,
        )
        code, heap, _stack = (int(p) for p in space.current)
        full = sum(1 for p in (code, heap) if p in set(pages.tolist()))
        size = self.page_map_bytes(space) + full * self.page_size + int(stack_bytes)
        space.evict(pages, dest)
        self.node.free_frames(int(pages.size))
        self._counts["pages_sent"] += int(pages.size)
        self.log("export-critical", pid=pid, dest=dest, pages=int(pages.size), bytes=size)
        return Reply(body=bundle, size_bytes=size, traffic="state")

    def _adopt(self, msg: Message) -> int:
        pid, (layout, locations, pages, versions, dirty, prefetch) = msg.body
        space = AddressSpace(pid, layout, resident=False)
        space.since = float(self.env.now)
        space.location[:] = locations
        space.prefetch = prefetch
        self.node.allocate_frames(int(pages.size))
        space.install(pages, versions, dirty)
        self.spaces[pid] = space
        self.node.attach_pager(pid, space)
        self._counts["pages_received"] += int(pages.size)
        self.log("adopt", pid=pid, pages=int(pages.size))
        return int(pages.size)

    def _relocate(self, msg: Message) -> int:
        pid, old, new = msg.body
        space = self.spaces.get(pid)
        if space is None:
            return 0
        moved = (~space.resident) & (space.location == old)
        space.location[moved] = new
        self.log("relocate", pid=pid, pages=int(moved.sum()), old=old, new=new)
        return int(moved.sum())

    def _free(self, msg: Message) -> int:
        """Drop the space. At the process's exit (``exit=True``) the peers still holding
        residual copies of its pages are told to release them; a migration's source
        dropping its leftovers tells nobody (its peers hold the live process)."""
        pid, at_exit = msg.body if isinstance(msg.body, tuple) else (msg.body, False)
        space = self.spaces.pop(pid, None)
        if space is None:
            return 0
        self.node.free_frames(int(space.resident.sum()))
        self.node.detach_pager(pid)
        if at_exit:
            peers = np.unique(space.location[~space.resident & (space.location >= 0)])
            for peer in peers.tolist():
                if peer != self.node.node_id:
                    self.node.send(self.peer(int(peer)), "release", pid, account=pid)
        self.log("free", pid=pid)
        self._signal_released(pid)
        return space.pages

    def _release(self, msg: Message) -> None:
        """A residual copy is no longer needed: drop it (never the live process's space)."""
        pid = msg.body
        space = self.spaces.get(pid)
        lives_here = self.node.cluster.location_of.get(pid) == self.node.node_id
        if space is not None and not lives_here:
            self.node.free_frames(int(space.resident.sum()))
            self.spaces.pop(pid)
            self.node.detach_pager(pid)
            self.log("residual-end", pid=pid, reason="released")
            self._signal_released(pid)

    def _wait_released(self, msg: Message) -> Generator[simpy.events.Event, Any, float]:
        pid = msg.body
        self._drop_if_empty(pid)  # a copy with nothing left to serve is no dependency
        if pid in self.spaces:
            event = self._released.get(pid)
            if event is None:
                event = self._released[pid] = self.env.event()
            yield event
        return float(self.env.now)

    def _signal_released(self, pid: int) -> None:
        event = self._released.pop(pid, None)
        if event is not None:
            event.succeed()

    def _describe(self, msg: Message) -> SpaceInfo | None:
        pid = msg.body
        return self.space_info(pid) if pid in self.spaces else None

    # -- faults --------------------------------------------------------------------
    def _fault(self, msg: Message) -> Generator[simpy.events.Event, Any, str]:
        pid, page, _write = msg.body
        space = self.spaces[pid]
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
            self.node.cluster.role_port(self._file_node(), "file"),
            "read",
            (space.pid, np.array([page])),
            account=space.pid,
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
        reply = yield self.node.call(
            self.peer(where), "fetch", (space.pid, wanted), account=space.pid
        )
        pages, versions, dirty = reply.body
        fresh = ~space.resident[pages]
        pages, versions, dirty = pages[fresh], versions[fresh], dirty[fresh]
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

    def _fetch(self, msg: Message) -> Reply:
        pid, pages = msg.body
        space = self.spaces.get(pid)
        if space is None:
            self.log("fetch-miss", pid=pid)
            nothing = np.empty(0, dtype=np.int64)
            return Reply(body=(nothing, nothing.astype(np.uint32), nothing.astype(np.bool_)))
        pages = pages[space.resident[pages]]
        versions = space.version[pages].copy()
        dirty = space.dirty[pages].copy()
        space.evict(pages, ZERO)
        self.node.free_frames(int(pages.size))
        self._counts["pages_served"] += int(pages.size)
        self.log("serve", pid=pid, pages=int(pages.size))
        self._drop_if_empty(pid)
        return Reply(
            body=(pages, versions, dirty),
            size_bytes=int(pages.size) * self.page_size,
            traffic="pages",
        )

    def _drop_if_empty(self, pid: int) -> None:
        """A residual copy with nothing left to serve is dropped (the dependency ends)."""
        space = self.spaces.get(pid)
        lives_here = self.node.cluster.location_of.get(pid) == self.node.node_id
        if space is not None and not space.resident.any() and not lives_here:
            self.spaces.pop(pid)
            self.node.detach_pager(pid)
            self.log("residual-end", pid=pid, reason="empty")
            self._signal_released(pid)

    # -- bulk transfers ------------------------------------------------------------
    def _send_pages(self, msg: Message) -> Generator[simpy.events.Event, Any, int | None]:
        pid, dest, which, *options = msg.body
        keep, overwrite = (bool(options[0]), bool(options[1])) if options else (False, True)
        if pid not in self.spaces:
            return None  # the process exited meanwhile
        return (yield from self.transfer(pid, dest, which, keep=keep, overwrite=overwrite))

    def transfer(
        self, pid: int, dest: int, which: Any, *, keep: bool, overwrite: bool
    ) -> Generator[simpy.events.Event, Any, int]:
        """Send a page set to ``dest`` as one flow; see ``send_pages``."""
        space = self.spaces[pid]
        pages = space.select(which) if isinstance(which, str) else np.asarray(which)
        pages = pages[space.resident[pages]]
        if keep:
            space.modified[pages] = False
        yield self.node.call(
            self.peer(dest),
            "install_pages",
            (pid, pages, space.version[pages].copy(), space.dirty[pages].copy(), overwrite),
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

    def _install_pages(self, msg: Message) -> int:
        pid, pages, versions, *rest = msg.body
        dirty = rest[0] if rest else np.zeros(np.size(pages), dtype=np.bool_)
        overwrite = bool(rest[1]) if len(rest) > 1 else True
        space = self.spaces.get(pid)
        if space is None:
            return 0  # the process exited here while the pages were on their way
        fresh = ~space.resident[pages]
        if not overwrite:
            pages, versions, dirty = pages[fresh], versions[fresh], dirty[fresh]
            fresh = np.ones(pages.size, dtype=np.bool_)
        self.node.allocate_frames(int(fresh.sum()))
        space.install(pages, versions, dirty)
        self._counts["pages_received"] += int(pages.size)
        return int(pages.size)

    def _push(self, msg: Message) -> Generator[simpy.events.Event, Any, int]:
        pid, dest, rate, batch = msg.body
        pushed = 0
        while pid in self.spaces and self.spaces[pid].resident.any():
            began = self.env.now
            chunk = self.spaces[pid].select("resident")[: max(1, int(batch))]
            pushed += yield from self.transfer(pid, dest, chunk, keep=False, overwrite=False)
            if rate > 0:
                pause = chunk.size / rate - (self.env.now - began)
                if pause > 0:
                    yield self.env.timeout(pause)
        self.log("push-done", pid=pid, pages=pushed)
        return pushed

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
            account=pid,
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

"""The Memory Manager's private table, and what all its handlers share.

The table maps pid -> :class:`AddressSpace` for the processes whose pages this node
holds: the process running here, or, after a lazy migration, a process that left and
still fetches pages from here (a residual dependency). The handlers live in one module
per concern -- :mod:`~rhodos.memory_manager.faults`, :mod:`~rhodos.memory_manager.transfers`
and :mod:`~rhodos.memory_manager.server` (lifecycle and the dispatch table) -- as MINIX's
VM server keeps one file per concern around one region table.
"""

from __future__ import annotations

from typing import TypeVar

import attrs
import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel import Node, Server
from rhodos.memory_manager.requests import SpaceInfo
from rhodos.memory_manager.space import AddressSpace

__all__ = ["MemoryStatistics", "SpaceTable", "SpaceView"]

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


class SpaceTable(Server):
    """The table of address spaces and the helpers the Memory Manager's handlers share."""

    role = "memory"

    def __init__(self, node: Node) -> None:
        self.spaces: dict[int, AddressSpace] = {}
        self._released: dict[int, simpy.Event] = {}
        #: pid -> fault replies served from here and not yet delivered: their pages are
        #: on the wire, and still count as held here until they arrive.
        self._on_wire: dict[int, int] = {}
        self._landed: dict[int, simpy.Event] = {}
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

    def page_map_bytes(self, locations: npt.NDArray[np.int16]) -> int:
        """Size on the wire of the page map ``locations`` (where each page will be found):
        a header and 8 bytes per run of pages at one place.

        Maps are region-based (as Accent's and Mach's are): a space whose pages are all
        at one place is one run whatever its size; a map that sends clean pages to the
        file server and dirty ones to the source has a run per stretch of each.
        """
        runs = 1 + int(np.count_nonzero(np.diff(locations)))
        return 64 + 8 * runs

    def _lives_here(self, pid: int) -> bool:
        """The process runs on this node (its space here is not a residual copy)."""
        return self.node.location_of(pid) == self.node.node_id

    def _file_port(self) -> int:
        """The file server's port."""
        return self.node.role_port("file", self.node.file_server())

    def _drop_if_empty(self, pid: int) -> None:
        """A residual copy with nothing left to serve, and no served page still on the wire,
        is dropped (the dependency ends)."""
        space = self.spaces.get(pid)
        if (
            space is not None
            and not space.resident.any()
            and pid not in self._on_wire
            and not self._lives_here(pid)
        ):
            self.spaces.pop(pid)
            self.node.detach_pager(pid)
            self.log("residual-end", pid=pid, reason="empty")
            self._signal_released(pid)

    def _sent_away(self, pid: int) -> None:
        """A fault reply carrying pages of ``pid`` left: they are on the wire."""
        self._on_wire[pid] = self._on_wire.get(pid, 0) + 1

    def _arrived(self, pid: int) -> None:
        """A fault reply of ``pid`` reached the node that asked: its pages are there now."""
        left = self._on_wire[pid] - 1
        if left:
            self._on_wire[pid] = left
            return
        del self._on_wire[pid]
        landed = self._landed.pop(pid, None)
        if landed is not None:
            landed.succeed()
        self._drop_if_empty(pid)

    def _landing(self, pid: int) -> simpy.Event | None:
        """The event of every page served from here for ``pid`` having arrived (None: none
        is on the wire)."""
        if pid not in self._on_wire:
            return None
        event = self._landed.get(pid)
        if event is None:
            event = self._landed[pid] = self.env.event()
        return event

    def _signal_released(self, pid: int) -> None:
        event = self._released.pop(pid, None)
        if event is not None:
            event.succeed()

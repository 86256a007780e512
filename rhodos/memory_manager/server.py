"""The Memory Manager server: address spaces, page faults, page transfers, flushing.

One per node. Its private table (:mod:`~rhodos.memory_manager.table`) maps pid ->
:class:`AddressSpace` for the processes whose pages it holds -- the process running
here, or, after a lazy migration, a process that left and still fetches pages from
here (a residual dependency). Its requests are declared in
:mod:`rhodos.memory_manager.requests`, each with who sends it and what it replies; the
dispatch table below maps them to the handlers: page faults in
:mod:`~rhodos.memory_manager.faults`, bulk transfers and page maps in
:mod:`~rhodos.memory_manager.transfers`, the lifecycle of a space here.

A request about a process whose space is no longer here (``SendPages``,
``ExportSpace``, ``Describe``) answers ``None``: the process exited while a migration
was preparing; an ``InstallPages`` still on its way when the process exited here
installs nothing.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel import Handler, PageFault, Request
from rhodos.memory_manager.faults import Faults
from rhodos.memory_manager.requests import (
    Adopt,
    Create,
    Describe,
    ExportCritical,
    ExportSpace,
    Fetch,
    Flush,
    Free,
    InstallPages,
    InstallSpace,
    Invalidate,
    Push,
    Release,
    Relocate,
    Select,
    SendPages,
    SpaceInfo,
    WaitReleased,
)
from rhodos.memory_manager.space import AddressSpace
from rhodos.memory_manager.transfers import Transfers

__all__ = ["MemoryManager"]


class MemoryManager(Faults, Transfers):
    """Owns the address spaces of the processes on (or depending on) its node."""

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
            Invalidate: self._invalidate,
            Push: self._push,
            Flush: self._flush,
            Describe: self._describe,
            Select: self._select,
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

    def _free(self, req: Free) -> Generator[simpy.events.Event, Any, int]:
        """Drop the space. At the process's exit (``at_exit``) the peers still holding
        residual copies of its pages are told to release them; a migration's source
        dropping its leftovers tells nobody (its peers hold the live process), and first
        waits for the pages it served to arrive: until then they are held here."""
        pid = req.pid
        landing = None if req.at_exit else self._landing(pid)
        if landing is not None:
            yield landing
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

    def _select(self, req: Select) -> npt.NDArray[np.int64] | None:
        space = self.spaces.get(req.pid)
        return None if space is None else space.select(req.which)

"""A node: CPU, memory frames, architecture, up/down state, and the kernel calls made from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel.cpu import CPU
from rhodos.kernel.message import Message, Port

if TYPE_CHECKING:
    from rhodos.kernel.cluster import Cluster
    from rhodos.kernel.profile import MachineProfile
    from rhodos.kernel.thread import Thread

__all__ = ["Node", "OutOfMemory", "Pager"]


class OutOfMemory(ValueError):
    """A node was asked for more page frames than it has free."""


class Pager(Protocol):
    """What the kernel needs of an address space to run a process: the MMU's view.

    The Memory Manager owns the address space and registers it with the kernel; the
    kernel applies a batch of references to it at hardware speed and traps to the
    Memory Manager (a message) at the first page that is not resident.
    """

    def touch(
        self, pages: npt.NDArray[np.int64], writes: npt.NDArray[np.bool_], start: int = 0
    ) -> int:
        """Apply references in order from ``start`` up to the first non-resident page.

        Returns how many were applied (``len(pages) - start`` when every page was
        resident). A written page gets one new version per batch, even when a fault
        split the batch: the kernel resumes it with ``start`` after the fault.
        """
        ...


class Node:
    """A workstation (or a file server): hardware plus the kernel's per-node tables."""

    def __init__(
        self,
        cluster: Cluster,
        node_id: int,
        profile: MachineProfile,
        architecture: str,
        *,
        kind: str = "compute",
    ) -> None:
        self.cluster = cluster
        self.env: simpy.Environment = cluster.env
        self.node_id = node_id
        self.profile = profile
        self.architecture = architecture
        self.kind = kind
        self.cpu = CPU(self.env, f"node{node_id}", profile.cpu_speed, log=cluster.log, node=node_id)
        self.frames_total = profile.memory_bytes // profile.page_size_bytes
        self.frames_used = 0
        self.up = True
        self.servers: dict[str, Any] = {}
        self.threads: dict[int, Thread] = {}
        self._pagers: dict[int, Pager] = {}

    def __repr__(self) -> str:
        return f"Node({self.node_id}, {self.architecture}, {'up' if self.up else 'down'})"

    # -- memory frames -------------------------------------------------------------
    @property
    def frames_free(self) -> int:
        """Page frames not allocated to any address space."""
        return self.frames_total - self.frames_used

    def allocate_frames(self, count: int) -> None:
        """Take ``count`` frames; raises :class:`OutOfMemory` when they are not free."""
        if count > self.frames_free:
            raise OutOfMemory(
                f"node {self.node_id} has {self.frames_free} free frames, {count} requested"
            )
        self.frames_used += count

    def free_frames(self, count: int) -> None:
        """Give ``count`` frames back."""
        self.frames_used = max(0, self.frames_used - count)

    # -- MMU -----------------------------------------------------------------------
    def attach_pager(self, pid: int, pager: Pager) -> None:
        """The Memory Manager makes ``pid``'s address space usable on this node."""
        self._pagers[pid] = pager

    def detach_pager(self, pid: int) -> None:
        """``pid``'s address space is no longer mapped here."""
        self._pagers.pop(pid, None)

    def pager(self, pid: int) -> Pager:
        """The address space of ``pid`` as mapped on this node."""
        return self._pagers[pid]

    # -- servers and ports ---------------------------------------------------------
    def create_port(self, owner: str) -> Port:
        """A new kernel port on this node."""
        return self.cluster.create_port(self.node_id, owner)

    def register_server(self, role: str, port_id: int, server: Any) -> None:
        """Publish a server's port under its role in the naming service."""
        self.servers[role] = server
        self.cluster.register_role(self.node_id, role, port_id)

    def role_port(self, role: str) -> int:
        """The port of this node's server with ``role``."""
        return self.cluster.role_port(self.node_id, role)

    # -- kernel calls --------------------------------------------------------------
    def kernel_work(self, seconds: float) -> simpy.Process:
        """Kernel CPU work on this node (pre-empts its processes)."""
        return self.cpu.kernel_work(seconds)

    def send(
        self,
        dst: int,
        kind: str,
        body: Any = None,
        *,
        size_bytes: int = 64,
        traffic: str = "control",
        account: int | None = None,
    ) -> simpy.Process:
        """Send a one-way message from this node to port ``dst``; the event fires on delivery."""
        return self.cluster.transmit(
            self.node_id, dst, kind, body, size_bytes=size_bytes, traffic=traffic, account=account
        )

    def call(
        self,
        dst: int,
        kind: str,
        body: Any = None,
        *,
        size_bytes: int = 64,
        traffic: str = "control",
        account: int | None = None,
    ) -> simpy.Process:
        """Request/reply: the event's value is the reply :class:`Message`."""
        return self.cluster.call(
            self.node_id, dst, kind, body, size_bytes=size_bytes, traffic=traffic, account=account
        )

    def reply(
        self, request: Message, body: Any = None, *, size_bytes: int = 64, traffic: str = "control"
    ) -> simpy.Process:
        """Answer ``request`` with ``body`` (booked to the request's account)."""
        assert request.reply_to is not None
        return self.cluster.transmit(
            self.node_id,
            request.reply_to,
            "reply",
            body,
            size_bytes=size_bytes,
            traffic=traffic,
            account=request.account,
        )

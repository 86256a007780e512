"""The File Manager server: a process's open files and the node's block cache.

One per node. It owns the fourth resource of a process (after its PCB, its address
space and its communication state): the files it has open -- a descriptor with its
offset per file -- and, in the node's block cache in front of the file server, the
blocks written through them. Writes go into the cache and stay there dirty (delayed
write, as Sprite's client caches did); they reach the file server when a migration
flushes them.

A migration asks the source's File Manager to transfer what it owns
(:class:`~rhodos.file_manager.requests.MigrateFiles`): it flushes the dirty blocks of
the process's files to the file server, or sends them along (the strategy chooses),
then sends the open-file state to the destination's File Manager, which re-opens each
stream at the file server (:data:`REOPEN_RPCS` RPCs per file, as in Sprite) before it
answers. Its requests are declared in :mod:`rhodos.file_manager.requests`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import simpy

from rhodos.file_manager.requests import (
    CloseAll,
    FilesMoved,
    FileState,
    InstallFiles,
    MigrateFiles,
)
from rhodos.file_manager.table import CachedFile, Descriptor, blocks_of
from rhodos.kernel import (
    CloseFile,
    FileCall,
    FileRPC,
    Handler,
    Node,
    OpenFile,
    Request,
    Server,
    WriteBlocks,
    WriteFile,
)

__all__ = [
    "ARRIVAL_TIMEOUT_S",
    "FIRST_FD",
    "OPEN_FILE_STATE_BYTES",
    "REOPEN_RPCS",
    "FileManager",
    "FileStatistics",
    "FileView",
]

#: Bytes of one open file's state on the wire: the stream's identity, offset, access
#: mode and the server's handle (assumed; Sprite's stream and I/O handle records are a
#: few hundred bytes).
OPEN_FILE_STATE_BYTES = 256
#: RPCs to the file server per open file moved: Douglis & Ousterhout (SP&E 1991) report
#: "about 3 RPCs" per file (the stream released by the old host, re-opened by the new).
REOPEN_RPCS = 3
#: The first descriptor a process gets (0-2 are the standard streams, not modelled).
FIRST_FD = 3
#: How long a file call at a process's new node waits for its open files to arrive (a
#: strategy that moves them after the resume); past it the call fails, loudly.
ARRIVAL_TIMEOUT_S = 600.0


@attrs.frozen
class FileStatistics:
    """Counters of one File Manager."""

    opened: int
    writes: int
    bytes_written: int
    files_moved_out: int
    files_moved_in: int
    blocks_flushed: int
    blocks_moved: int


@attrs.frozen
class FileView:
    """What one File Manager holds of a process, for the checkers of :mod:`rhodos.testing`."""

    pid: int
    #: (descriptor, file name, offset, writes) of each open file, by descriptor.
    files: tuple[tuple[int, str, int, int], ...]


class FileManager(Server):
    """Owns the open files of the processes on its node and the node's block cache."""

    role = "files"

    def __init__(self, node: Node) -> None:
        self.open: dict[int, dict[int, Descriptor]] = {}
        self.cache: dict[str, CachedFile] = {}
        self._arrivals: dict[int, simpy.Event] = {}
        #: Processes that exited here: open files of theirs arriving late are dropped.
        self._exited: set[int] = set()
        self._counts = dict.fromkeys(
            (
                "opened",
                "writes",
                "bytes_written",
                "files_moved_out",
                "files_moved_in",
                "blocks_flushed",
                "blocks_moved",
            ),
            0,
        )
        super().__init__(node)

    def handlers(self) -> dict[type[Request], Handler]:
        return {
            FileCall: self._file_call,
            CloseAll: self._close_all,
            MigrateFiles: self._migrate_files,
            InstallFiles: self._install_files,
        }

    def statistics(self) -> FileStatistics:
        """A frozen snapshot of this File Manager's counters."""
        return FileStatistics(**self._counts)

    def snapshot(self, pid: int) -> FileView:
        """What this File Manager holds of ``pid`` (read-only; for :mod:`rhodos.testing`)."""
        files = self.open.get(pid, {})
        return FileView(
            pid=pid,
            files=tuple((d.fd, d.name, d.offset, d.writes) for _, d in sorted(files.items())),
        )

    def cached(self, name: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """The cached blocks of ``name``: each one's version (-1: not cached) and whether it
        is dirty (read-only copies; for :mod:`rhodos.testing`)."""
        entry = self.cache.get(name, CachedFile())
        versions, dirty = entry.versions.copy(), entry.dirty.copy()
        versions.flags.writeable = dirty.flags.writeable = False
        return versions, dirty

    @property
    def _block_bytes(self) -> int:
        """A file block is a page (Sprite's file blocks and pages were both 4 KiB)."""
        return self.node.profile.page_size_bytes

    # -- the process's calls -------------------------------------------------------
    def _file_call(self, req: FileCall) -> Generator[simpy.events.Event, Any, Any]:
        pid, action = req.pid, req.action
        if isinstance(action, OpenFile):
            return (yield from self._open_file(pid, action))
        files = yield from self._files(pid, wait=True)
        descriptor = files.get(action.fd)
        if descriptor is None:
            raise ValueError(f"process {pid} has no open file {action.fd} on this node")
        if isinstance(action, WriteFile):
            blocks = blocks_of(descriptor.offset, action.nbytes, self._block_bytes)
            descriptor.writes += 1
            self.cache.setdefault(descriptor.name, CachedFile()).write(blocks, descriptor.writes)
            descriptor.offset += action.nbytes
            self._counts["writes"] += 1
            self._counts["bytes_written"] += action.nbytes
            return action.nbytes
        if isinstance(action, CloseFile):
            del files[action.fd]
            self.log("close", pid=pid, fd=action.fd)
            return None
        raise TypeError(f"a file call carried {action!r}, which is not a file action")

    def _open_file(self, pid: int, action: OpenFile) -> Generator[simpy.events.Event, Any, int]:
        files = yield from self._files(pid, wait=False)
        fd = max(files, default=FIRST_FD - 1) + 1
        name = action.name or f"pid{pid}.fd{fd}"
        yield from self._stream_rpc(pid, name, "open", traffic="control")
        files[fd] = Descriptor(fd, name)
        self._counts["opened"] += 1
        self.log("open", pid=pid, fd=fd, file=name)
        return fd

    def _files(
        self, pid: int, *, wait: bool
    ) -> Generator[simpy.events.Event, Any, dict[int, Descriptor]]:
        """``pid``'s descriptors here; ``wait``: if there are none, they are on their way
        (a call on a descriptor proves the process opened files): wait for them."""
        if wait and pid not in self.open:
            event = self._arrival(pid)
            timeout = self.env.timeout(ARRIVAL_TIMEOUT_S)
            yield event | timeout
            if not event.triggered:
                raise TimeoutError(
                    f"process {pid}'s open files did not arrive within {ARRIVAL_TIMEOUT_S} s"
                )
        return self.open.setdefault(pid, {})

    def _close_all(self, req: CloseAll) -> int:
        self._exited.add(req.pid)
        closed = len(self.open.pop(req.pid, {}))
        self.log("close-all", pid=req.pid, files=closed)
        return closed

    def _stream_rpc(
        self, pid: int, name: str, op: str, *, traffic: str
    ) -> Generator[simpy.events.Event, Any, None]:
        node = self.node
        yield node.call(
            node.role_port("file", node.file_server()),
            FileRPC(name, op),
            traffic=traffic,
            account=pid,
        )

    # -- migration -----------------------------------------------------------------
    def _arrival(self, pid: int) -> simpy.Event:
        """The event of ``pid``'s open files being installed here."""
        event = self._arrivals.get(pid)
        if event is None:
            event = self._arrivals[pid] = self.env.event()
        return event

    def _migrate_out(
        self, pid: int, blocks: str
    ) -> Generator[simpy.events.Event, Any, tuple[list[FileState], int, int]]:
        """Take ``pid``'s files out of the table; flush or pack their dirty blocks."""
        files = self.open.pop(pid, {})
        states, flushed, moved = [], 0, 0
        for fd in sorted(files):
            descriptor = files[fd]
            entry = self.cache.get(descriptor.name, CachedFile())
            dirty = entry.dirty_blocks()
            versions = entry.versions[dirty]
            if blocks == "flush" and dirty.size:
                yield self.node.call(
                    self.node.role_port("file", self.node.file_server()),
                    WriteBlocks(descriptor.name, dirty, versions),
                    size_bytes=int(dirty.size) * self._block_bytes,
                    traffic="flush",
                    account=pid,
                )
                flushed += int(dirty.size)
                dirty = versions = np.empty(0, dtype=np.int64)
            moved += int(dirty.size)
            self.cache.pop(descriptor.name, None)  # the file's blocks leave with it
            states.append(
                FileState(
                    fd, descriptor.name, descriptor.offset, descriptor.writes, dirty, versions
                )
            )
        return states, flushed, moved

    def _migrate_files(self, req: MigrateFiles) -> Generator[simpy.events.Event, Any, FilesMoved]:
        """Move the files; reply what moved, what was flushed, and when they were installed."""
        pid = req.pid
        states, flushed, moved = yield from self._migrate_out(pid, req.blocks)
        self._counts["blocks_flushed"] += flushed
        if not states:
            return FilesMoved(blocks_flushed=flushed)
        size = len(states) * OPEN_FILE_STATE_BYTES + moved * self._block_bytes
        self.log("migrate-out", pid=pid, dest=req.dest, files=len(states), bytes=size)
        reply = yield self.node.call(
            self.peer(req.dest),
            InstallFiles(pid, tuple(states)),
            size_bytes=size,
            traffic="files",
            account=pid,
        )
        self._counts["files_moved_out"] += len(states)
        self._counts["blocks_moved"] += moved
        return FilesMoved(len(states), flushed, moved, size, float(reply.body))

    def _install_files(self, req: InstallFiles) -> Generator[simpy.events.Event, Any, float]:
        pid = req.pid
        for state in req.files:
            yield from self._stream_rpc_times(pid, state.name)
        if pid in self._exited:
            # It exited here before its files came (they move after the resume): they
            # are closed. Their dirty blocks still belong to the files: keep them cached.
            for state in req.files:
                if state.blocks.size:
                    entry = self.cache.setdefault(state.name, CachedFile())
                    entry.install(state.blocks, state.versions)
            self.log("install-after-exit", pid=pid, files=len(req.files))
            return float(self.env.now)
        files = self.open.setdefault(pid, {})
        for state in req.files:
            files[state.fd] = Descriptor(state.fd, state.name, state.offset, state.writes)
            if state.blocks.size:
                self.cache.setdefault(state.name, CachedFile()).install(
                    state.blocks, state.versions
                )
        self._counts["files_moved_in"] += len(req.files)
        self.log("install", pid=pid, files=len(req.files))
        event = self._arrivals.pop(pid, None)
        if event is not None and not event.triggered:
            event.succeed()
        return float(self.env.now)

    def _stream_rpc_times(self, pid: int, name: str) -> Generator[simpy.events.Event, Any, None]:
        """Re-open the stream of ``name`` here: :data:`REOPEN_RPCS` RPCs to the file server."""
        for _ in range(REOPEN_RPCS):
            yield from self._stream_rpc(pid, name, "reopen", traffic="files")

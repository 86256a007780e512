"""The file server: backing store for flushed pages and checkpoints, and the files.

A file server is a node of its own running this server. Its disk is a fluid resource of
the profile's file-server bandwidth, shared fairly among concurrent requests, and every
request pays the profile's access time first. In front of the disk is a memory cache
(as Sprite's servers had: Nelson, Welch & Ousterhout, ACM TOCS 1988) of the profile's
``file_server_cache_bytes``: a page or file block written here, or read from the disk,
stays in it (least recently used out), and a read finds it there at the cache's rate
with no disk access. A write goes into the cache and the requester is answered; the
disk write follows behind its back (delayed write), so it still keeps the disk busy
for later misses. A request larger than the whole cache goes to the disk, and without
a cache every request does. The cache is memory: a crash of the server empties it.

It stores, per process, the version of each page written to it, so a page faulted back
from the file server comes back with the contents that were flushed: the
memory-survives invariant holds across flushing strategies. Likewise it stores, per
file, the version of each block a File Manager wrote back, so that a file's contents
survive a migration that flushed them; its table of open streams answers the File
Managers' stream RPCs without touching the disk.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from rhodos.kernel.cache import ServerCache
from rhodos.kernel.file_requests import (
    CheckpointImage,
    FileRPC,
    ForgetPages,
    ReadCheckpoint,
    ReadPages,
    StoreCheckpoint,
    WriteBlocks,
    WritePages,
)
from rhodos.kernel.fluid import FluidScheduler
from rhodos.kernel.message import Request
from rhodos.kernel.node import Node
from rhodos.kernel.server import Handler, Reply, Server

__all__ = ["FileServer"]


class FileServer(Server):
    """Stores page versions per process; reads and writes cost disk time."""

    role = "file"

    def __init__(self, node: Node) -> None:
        profile = node.profile
        self._disk = FluidScheduler(node.env, name=f"node{node.node_id}.disk")
        self._link = self._disk.add_link("disk", profile.file_server_bytes_per_s)
        self._memory = self._disk.add_link("cache", profile.file_server_cache_bytes_per_s)
        self.cache = ServerCache(profile.file_server_cache_bytes // profile.page_size_bytes)
        # The disk outlives a crash of the node (a recovery finds it as it was).
        self._store: dict[int, npt.NDArray[np.int64]] = node.disk.setdefault("pages", {})
        self._checkpoints: dict[int, CheckpointImage] = node.disk.setdefault("checkpoints", {})
        #: File name -> the version of each of its blocks written here (-1: none).
        self._files: dict[str, npt.NDArray[np.int64]] = node.disk.setdefault("files", {})
        self.stream_rpcs = 0
        self.bytes_written = 0
        self.bytes_read = 0
        super().__init__(node)

    def handlers(self) -> dict[type[Request], Handler]:
        return {
            WritePages: self._write,
            ReadPages: self._read,
            ForgetPages: self._forget,
            WriteBlocks: self._write_blocks,
            FileRPC: self._file_rpc,
            StoreCheckpoint: self._store_checkpoint,
            ReadCheckpoint: self._read_checkpoint,
        }

    def snapshot(self, pid: int) -> npt.NDArray[np.int64]:
        """Version of every page of ``pid`` held here (-1 where none was written).

        A read-only copy, for the checkers of :mod:`rhodos.testing`.
        """
        versions = self._store.get(pid, np.empty(0, dtype=np.int64)).copy()
        versions.flags.writeable = False
        return versions

    def file_snapshot(self, name: str) -> npt.NDArray[np.int64]:
        """Version of every block of the file ``name`` held here (-1 where none was written).

        A read-only copy, for the checkers of :mod:`rhodos.testing`.
        """
        versions = self._files.get(name, np.empty(0, dtype=np.int64)).copy()
        versions.flags.writeable = False
        return versions

    def _disk_io(self, nbytes: int) -> Generator[simpy.events.Event, Any, None]:
        yield self.env.timeout(self.node.profile.file_server_latency_s)
        yield self._disk.start(float(nbytes), (self._link,)).done

    def _cached_read(
        self, key: tuple[str, object], items: npt.NDArray[np.int64]
    ) -> Generator[simpy.events.Event, Any, None]:
        """Read ``items`` (pages or blocks) of ``key``: the misses from the disk, then the
        hits from the cache; all of them are cached afterwards."""
        page = self.node.profile.page_size_bytes
        hits = int(self.cache.lookup(key, items).sum())
        if hits < items.size or not items.size:
            yield from self._disk_io((int(items.size) - hits) * page)
        if hits:
            yield self._disk.start(float(hits * page), (self._memory,)).done
        self.cache.admit(key, items)

    def _cached_write(
        self, key: tuple[str, object], items: npt.NDArray[np.int64]
    ) -> Generator[simpy.events.Event, Any, None]:
        """Write ``items`` of ``key`` into the cache, the disk following behind (delayed
        write); a write the cache cannot take goes to the disk while the requester waits."""
        nbytes = int(items.size) * self.node.profile.page_size_bytes
        if not self.cache.takes(int(np.unique(items).size)):
            yield from self._disk_io(nbytes)
            return
        self.cache.admit(key, items)
        yield self._disk.start(float(nbytes), (self._memory,)).done
        self.env.process(self._disk_io(nbytes))

    def _write(self, req: WritePages) -> Generator[simpy.events.Event, Any, Reply]:
        pid, npages, pages = req.pid, req.npages, req.pages
        nbytes = int(np.size(pages)) * self.node.profile.page_size_bytes
        store = self._store.get(pid)
        if store is None or store.size < npages:
            grown = np.full(npages, -1, dtype=np.int64)
            if store is not None:
                grown[: store.size] = store
            store = self._store[pid] = grown
        store[pages] = req.versions
        yield from self._cached_write(("pages", pid), np.asarray(pages, dtype=np.int64).ravel())
        self.bytes_written += nbytes
        self.log("write", pid=pid, pages=int(np.size(pages)), bytes=nbytes)
        return Reply(body=int(np.size(pages)))

    def _read(self, req: ReadPages) -> Generator[simpy.events.Event, Any, Reply]:
        pid, pages = req.pid, req.pages
        store = self._store.get(pid)
        versions = (
            store[pages] if store is not None else np.full(np.size(pages), -1, dtype=np.int64)
        )
        nbytes = int(np.size(pages)) * self.node.profile.page_size_bytes
        yield from self._cached_read(("pages", pid), np.asarray(pages, dtype=np.int64).ravel())
        self.bytes_read += nbytes
        self.log("read", pid=pid, pages=int(np.size(pages)), bytes=nbytes)
        return Reply(body=versions, size_bytes=nbytes, traffic="pages")

    def _forget(self, req: ForgetPages) -> None:
        self._store.pop(req.pid, None)
        self.cache.drop(("pages", req.pid))
        self._checkpoints.pop(req.pid, None)

    def _write_blocks(self, req: WriteBlocks) -> Generator[simpy.events.Event, Any, Reply]:
        blocks = np.asarray(req.blocks, dtype=np.int64)
        nbytes = int(blocks.size) * self.node.profile.page_size_bytes
        if blocks.size:
            store = self._files.get(req.name, np.empty(0, dtype=np.int64))
            needed = int(blocks.max()) + 1
            if store.size < needed:
                grown = np.full(needed, -1, dtype=np.int64)
                grown[: store.size] = store
                store = self._files[req.name] = grown
            store[blocks] = req.versions
        yield from self._cached_write(("file", req.name), blocks)
        self.bytes_written += nbytes
        self.log("write-blocks", file=req.name, blocks=int(blocks.size), bytes=nbytes)
        return Reply(body=int(blocks.size))

    def _file_rpc(self, req: FileRPC) -> None:
        self.stream_rpcs += 1
        self.log("stream", file=req.name, op=req.op)

    def _store_checkpoint(self, req: StoreCheckpoint) -> Generator[simpy.events.Event, Any, None]:
        yield from self._disk_io(self.node.profile.execution_state_bytes)
        self._checkpoints[req.image.pid] = req.image
        self.log("checkpoint", pid=req.image.pid, bytes=req.image.bytes)

    def _read_checkpoint(
        self, req: ReadCheckpoint
    ) -> Generator[simpy.events.Event, Any, CheckpointImage | None]:
        image = self._checkpoints.get(req.pid)
        if image is None:
            return None
        yield from self._disk_io(image.layout.pages * self.node.profile.page_size_bytes)
        return image

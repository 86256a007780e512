"""The file-state invariant: after a migration a process's files are where it runs.

A :class:`FileOracle` opens files, writes blocks into them (they stay dirty in its
node's block cache) and computes -- the scenario migrates it meanwhile. Then it compares
what it wrote with what the system holds (:func:`check_files`), and again after it wrote
once more into each file from wherever it runs, right before it exits: the File Manager
of the node it runs on holds every descriptor with the offset the writes left it at, no other File
Manager holds any, and every block it wrote has, where the system keeps it (that node's
block cache, else the file server), the version of its last write.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel import Cluster, Compute, Exit, OpenFile, WriteFile
from rhodos.testing.checks import file_view
from rhodos.workload import ProgramContext, ProgramGenerator

__all__ = ["FileOracle", "block_versions", "check_files"]


def block_versions(cluster: Cluster, node_id: int, name: str) -> npt.NDArray[np.int64]:
    """The authoritative version of every block of the file ``name`` for a process on
    ``node_id``: that node's cached copy where it has one, else the file server's (-1:
    neither holds the block)."""
    cached, _dirty = cluster.node(node_id).debug_server("files").cached(name)
    stored = np.empty(0, dtype=np.int64)
    if cluster.file_server_nodes:
        server = cluster.file_server_nodes[0].debug_server("file")
        stored = server.file_snapshot(name)
    out = np.full(max(cached.size, stored.size), -1, dtype=np.int64)
    out[: stored.size] = stored
    hit = np.flatnonzero(cached >= 0)
    out[hit] = cached[hit]
    return out


def check_files(
    cluster: Cluster,
    pid: int,
    expected: dict[int, tuple[int, npt.NDArray[np.int64]]],
) -> list[str]:
    """``pid``'s files against ``expected``: descriptor -> (offset, version of each block)."""
    here = cluster.location_of[pid]
    problems = []
    for node in cluster.nodes:
        if node.node_id != here and file_view(cluster, node.node_id, pid).files:
            problems.append(
                f"process {pid} runs on node {here} but node {node.node_id}'s File Manager "
                "still holds open files of it"
            )
    held = {fd: (name, offset) for fd, name, offset, _ in file_view(cluster, here, pid).files}
    for fd, (offset, versions) in sorted(expected.items()):
        if fd not in held:
            problems.append(f"process {pid}: descriptor {fd} is missing on node {here}")
            continue
        name, held_offset = held[fd]
        if held_offset != offset:
            problems.append(
                f"process {pid}: descriptor {fd} at offset {held_offset}, wrote up to {offset}"
            )
        found = block_versions(cluster, here, name)[: versions.size]
        found = np.pad(found, (0, versions.size - found.size), constant_values=-1)
        wrong = np.flatnonzero(found != versions)
        if wrong.size:
            problems.append(
                f"process {pid}: blocks {wrong[:8].tolist()} of {name} hold versions "
                f"{found[wrong[:8]].tolist()}, last written {versions[wrong[:8]].tolist()}"
            )
    return problems


@attrs.define(eq=False)
class FileOracle:
    """A program that opens ``files`` files, writes ``blocks`` blocks into them round robin,
    computes ``cpu_seconds``, checks its files, writes one more block into each, then
    checks them again.

    One instance runs as one process (it holds that process's observations).
    """

    cluster: Cluster = attrs.field(repr=False)
    name: str = "file-oracle"
    memory_bytes: int = 32 * 1024
    files: int = 3
    blocks: int = 12
    cpu_seconds: float = 0.4
    burst_s: float = 0.01
    #: Filled in as the program runs.
    pid: int | None = None
    checked_at: float | None = None
    violations: list[str] = attrs.field(factory=list)
    _offsets: dict[int, int] = attrs.field(factory=dict, alias="_offsets")
    _writes: dict[int, int] = attrs.field(factory=dict, alias="_writes")
    _versions: dict[int, dict[int, int]] = attrs.field(factory=dict, alias="_versions")

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        if self.pid is not None:
            raise RuntimeError("a FileOracle runs as one process only; make another")
        self.pid = ctx.pid
        fds = []
        for _ in range(self.files):
            fd = yield OpenFile()
            fds.append(fd)
            self._offsets[fd], self._writes[fd], self._versions[fd] = 0, 0, {}
        for i in range(self.blocks):
            yield from self._write(fds[i % len(fds)], ctx.page_size)
        done = 0.0
        while self.cpu_seconds - done > 1e-12:
            burst = min(self.burst_s, self.cpu_seconds - done)
            yield Compute(burst)
            done += burst
        self.check()  # migrated by now: before it writes from where it runs
        for fd in fds:
            yield from self._write(fd, ctx.page_size)
        self.check()
        yield Exit(0)

    def _write(self, fd: int, nbytes: int) -> ProgramGenerator:
        yield WriteFile(fd, nbytes)
        block_bytes = self.cluster.profile.page_size_bytes
        self._writes[fd] += 1
        first, last = self._offsets[fd], self._offsets[fd] + nbytes - 1
        for block in range(first // block_bytes, last // block_bytes + 1):
            self._versions[fd][block] = self._writes[fd]
        self._offsets[fd] += nbytes

    def expected(self) -> dict[int, tuple[int, npt.NDArray[np.int64]]]:
        """Descriptor -> (offset, version of each block) from what the program wrote."""
        out = {}
        for fd, written in self._versions.items():
            versions = np.full(max(written, default=-1) + 1, -1, dtype=np.int64)
            for block, version in written.items():
                versions[block] = version
            out[fd] = (self._offsets[fd], versions)
        return out

    def check(self) -> None:
        """Compare what the program wrote with what the system holds; record differences."""
        assert self.pid is not None
        self.checked_at = self.cluster.now
        found = check_files(self.cluster, self.pid, self.expected())
        self.violations.extend(v for v in found if v not in self.violations)

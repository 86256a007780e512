"""The File Manager's private table: open descriptors and the node's block cache."""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["CachedFile", "Descriptor", "blocks_of"]


@attrs.define(eq=False)
class Descriptor:
    """One open file of a process: what moves when the process migrates."""

    fd: int
    #: The file's name at the file server (its identity).
    name: str
    #: Where the next write goes, in bytes.
    offset: int = 0
    #: Writes made through this descriptor: the version stamped on the blocks it writes.
    writes: int = 0


@attrs.define(eq=False)
class CachedFile:
    """The blocks of one file cached on this node: each block's version (-1: not cached)
    and whether it is dirty (written here, not yet written back to the file server)."""

    versions: npt.NDArray[np.int64] = attrs.field(factory=lambda: np.empty(0, dtype=np.int64))
    dirty: npt.NDArray[np.bool_] = attrs.field(factory=lambda: np.empty(0, dtype=np.bool_))

    def write(self, blocks: npt.NDArray[np.int64], version: int) -> None:
        """Blocks ``blocks`` now hold ``version``, dirty (the arrays grow to hold them)."""
        if blocks.size == 0:
            return
        needed = int(blocks.max()) + 1
        if self.versions.size < needed:
            versions = np.full(needed, -1, dtype=np.int64)
            versions[: self.versions.size] = self.versions
            dirty = np.zeros(needed, dtype=np.bool_)
            dirty[: self.dirty.size] = self.dirty
            self.versions, self.dirty = versions, dirty
        self.versions[blocks] = version
        self.dirty[blocks] = True

    def install(self, blocks: npt.NDArray[np.int64], versions: npt.NDArray[np.int64]) -> None:
        """Blocks moved here from another node's cache, dirty, with their versions."""
        if blocks.size == 0:
            return
        self.write(blocks, 0)
        self.versions[blocks] = versions

    def dirty_blocks(self) -> npt.NDArray[np.int64]:
        """The numbers of the dirty blocks, in order."""
        return np.flatnonzero(self.dirty).astype(np.int64)


def blocks_of(offset: int, nbytes: int, block_bytes: int) -> npt.NDArray[np.int64]:
    """The numbers of the blocks that ``nbytes`` written at ``offset`` touch."""
    if nbytes <= 0:
        return np.empty(0, dtype=np.int64)
    return np.arange(
        offset // block_bytes, (offset + nbytes - 1) // block_bytes + 1, dtype=np.int64
    )

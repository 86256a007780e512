"""The requests the File Manager handles, and its replies that carry several values.

The kernel's trap to it -- :class:`~rhodos.kernel.FileCall` (open, write, close) -- is
declared in the kernel.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel import Request

__all__ = ["BLOCK_POLICIES", "CloseAll", "FileState", "FilesMoved", "InstallFiles", "MigrateFiles"]

#: What a migration does with the dirty blocks of the files a process has open:
#: ``flush`` -- write them back to the file server first (Sprite); ``move`` -- send them
#: to the destination's cache with the open-file state.
BLOCK_POLICIES = ("flush", "move")


@attrs.frozen
class CloseAll(Request):
    """Process Manager (at exit) -> File Manager: close every descriptor of ``pid`` (its
    dirty blocks stay in the cache: they belong to the files); reply how many it closed."""

    pid: int


@attrs.frozen
class MigrateFiles(Request):
    """Migration Manager -> source File Manager: move ``pid``'s open files to ``dest``, their
    dirty blocks flushed to the file server or moved with them (``blocks``, one of
    :data:`BLOCK_POLICIES`); reply :class:`FilesMoved`."""

    pid: int
    dest: int
    blocks: str = attrs.field(default="flush", validator=attrs.validators.in_(BLOCK_POLICIES))


@attrs.frozen(eq=False)
class FileState:
    """One open file as it travels: descriptor, name, offset, writes made, and the dirty
    blocks moved with it (block numbers and versions; empty when they were flushed)."""

    fd: int
    name: str
    offset: int
    writes: int
    blocks: npt.NDArray[np.int64]
    versions: npt.NDArray[np.int64]


@attrs.frozen(eq=False)
class InstallFiles(Request):
    """Source File Manager -> destination File Manager: ``pid``'s open ``files`` arrive;
    the destination re-opens each at the file server, then replies the instant they were
    installed."""

    pid: int
    files: tuple[FileState, ...]


@attrs.frozen
class FilesMoved:
    """The reply to :class:`MigrateFiles`: files moved, dirty blocks flushed to the file
    server and moved to the destination, bytes sent to the destination, and when the
    files were installed there (NaN when there were none)."""

    files: int = 0
    blocks_flushed: int = 0
    blocks_moved: int = 0
    bytes: int = 0
    installed_at: float = math.nan

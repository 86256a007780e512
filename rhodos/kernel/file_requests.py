"""The requests the file server handles (the file server is a node of the kernel's own)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel.layout import Layout
from rhodos.kernel.message import Request

__all__ = [
    "CheckpointImage",
    "FileRPC",
    "ForgetPages",
    "ReadCheckpoint",
    "ReadPages",
    "StoreCheckpoint",
    "WriteBlocks",
    "WritePages",
]


@attrs.frozen(eq=False)
class WritePages(Request):
    """Memory Manager -> file server: store ``versions`` of ``pages`` of ``pid`` (whose space
    has ``npages`` pages); reply how many pages were written."""

    kind: ClassVar[str] = "write"

    pid: int
    npages: int
    pages: npt.NDArray[np.int64]
    versions: npt.NDArray[np.int64]


@attrs.frozen(eq=False)
class ReadPages(Request):
    """Memory Manager -> file server: read ``pages`` of ``pid``; reply their versions (-1
    where none was written), one page each on the wire."""

    kind: ClassVar[str] = "read"

    pid: int
    pages: npt.NDArray[np.int64]


@attrs.frozen
class ForgetPages(Request):
    """Anyone -> file server: drop every page stored for ``pid`` (one-way)."""

    kind: ClassVar[str] = "forget"

    pid: int


@attrs.frozen(eq=False)
class WriteBlocks(Request):
    """File Manager -> file server: store ``versions`` of the blocks ``blocks`` of the file
    ``name``; reply how many blocks were written."""

    kind: ClassVar[str] = "write_blocks"

    name: str
    blocks: npt.NDArray[np.int64]
    versions: npt.NDArray[np.int64]


@attrs.frozen
class FileRPC(Request):
    """File Manager -> file server: one stream operation on the file ``name`` (``op``:
    ``open``, or ``reopen`` when a migration moves the stream to another node); reply
    ``None``. It touches the server's table of open streams, not the disk."""

    kind: ClassVar[str] = "file_rpc"

    name: str
    op: str


@attrs.frozen(eq=False)
class CheckpointImage:
    """A process's last checkpoint as the file server keeps it: its execution state
    (``context``, a copy of the program's state when it was taken), the actions its
    program yielded since (what a restart runs again, see :mod:`rhodos.faults`), its
    communication state, the CPU-seconds of work it had done then, when it was taken
    and how many bytes were written."""

    pid: int
    name: str
    home: int
    layout: Layout
    context: Any
    cpu_seconds: float
    taken_at: float
    bytes: int
    full: bool = True
    #: The program's image at its start, stored when it was created: restarting from it
    #: loses all the work done.
    initial: bool = False
    #: The actions the program yielded since (a list its recorder keeps appending to
    #: until the next checkpoint): what a restart from this image runs again.
    since: list[Any] = attrs.field(factory=list)
    #: The process's communication state when it was taken (the IPC Manager's snapshot;
    #: ``None``: an empty one).
    comm: Any = None


@attrs.frozen(eq=False)
class StoreCheckpoint(Request):
    """Migration Manager -> file server: keep ``image`` as the process's last checkpoint
    (its pages were written before, with :class:`WritePages`); reply ``None``."""

    kind: ClassVar[str] = "store-checkpoint"

    image: CheckpointImage


@attrs.frozen
class ReadCheckpoint(Request):
    """Recovery manager -> file server: reply ``pid``'s last :class:`CheckpointImage`
    (``None``: it has none), after reading its bytes from the disk."""

    kind: ClassVar[str] = "read-checkpoint"

    pid: int

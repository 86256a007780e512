"""The requests the file server handles (the file server is a node of the kernel's own)."""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel.message import Request

__all__ = ["FileRPC", "ForgetPages", "ReadPages", "WriteBlocks", "WritePages"]


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

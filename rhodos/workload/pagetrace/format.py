"""The page-trace file: what a real program touched, window by window.

A trace is a zip of ``.npy`` arrays (it opens with ``numpy.load``) with:

* ``meta``: a JSON document -- the command, the tool and its version, the window size
  in instructions, the page size, totals; no date, so that recording the same
  deterministic command twice gives the same bytes;
* ``pages``: every page the program touched (page numbers: addresses // page size),
  sorted, as ``uint64``; ``regions``: the region of each (see :data:`REGIONS`);
* ``instructions``: instructions per window;
* per block of :data:`BLOCK` windows, ``reads.NNNNN`` and ``writes.NNNNN``: the pages
  each window read and wrote, as indices into ``pages``, sorted within the window and
  delta-encoded (the first index, then the gaps), with ``read_counts.NNNNN`` and
  ``write_counts.NNNNN`` saying how many belong to each window.

The zip is compressed (deflate) and its entries carry a fixed timestamp. Reading is
lazy: :meth:`PageTrace.window` loads the block that holds the window, not the file.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["BLOCK", "FORMAT", "REGIONS", "PageTrace", "TraceWindow", "write_trace"]

#: The regions of an address space a page may belong to, by code.
REGIONS = ("code", "heap", "stack", "mapped")
#: Windows per stored block (the unit of lazy loading).
BLOCK = 1024
#: The format's version, in ``meta["format"]``.
FORMAT = 1
_STAMP = (1980, 1, 1, 0, 0, 0)

U32 = npt.NDArray[np.uint32]


@attrs.frozen(eq=False)
class TraceWindow:
    """One window: its instructions and the pages it read and wrote (indices into ``pages``)."""

    index: int
    instructions: int
    reads: U32
    writes: U32


def _npy(array: npt.ArrayLike) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _delta(values: U32, counts: U32) -> U32:
    """Each window's sorted indices as its first index then the gaps."""
    out = values.astype(np.int64)
    if out.size:
        gaps = np.diff(out, prepend=0)
        starts = np.cumsum(counts) - counts
        starts = starts[counts > 0]
        gaps[starts] = out[starts]
        out = gaps
    return out.astype(np.uint32)


def write_trace(
    path: str | Path,
    meta: dict[str, Any],
    pages: npt.NDArray[np.uint64],
    regions: npt.NDArray[np.uint8],
    instructions: Sequence[int] | npt.NDArray[np.integer[Any]],
    reads: Sequence[U32],
    writes: Sequence[U32],
) -> None:
    """Write a trace file; ``reads[w]``/``writes[w]`` are window ``w``'s sorted page indices."""
    if not len(instructions) == len(reads) == len(writes):
        raise ValueError("instructions, reads and writes need one entry per window")
    meta = {**meta, "format": FORMAT, "block": BLOCK, "windows": len(instructions)}
    members: dict[str, bytes] = {
        "meta": _npy(np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)),
        "pages": _npy(np.asarray(pages, dtype=np.uint64)),
        "regions": _npy(np.asarray(regions, dtype=np.uint8)),
        "instructions": _npy(np.asarray(instructions, dtype=np.uint32)),
    }
    for b, first in enumerate(range(0, len(instructions), BLOCK)):
        for name, sets in (("reads", reads), ("writes", writes)):
            block = [np.asarray(s, dtype=np.uint32) for s in sets[first : first + BLOCK]]
            counts = np.array([s.size for s in block], dtype=np.uint32)
            flat = np.concatenate(block) if block else np.zeros(0, dtype=np.uint32)
            members[f"{name}.{b:05d}"] = _npy(_delta(flat, counts))
            members[f"{name[:-1]}_counts.{b:05d}"] = _npy(counts)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=9)


class PageTrace:
    """A trace file opened for reading; windows load lazily, a block at a time.

    Attributes:
        meta: the metadata (command, versions, window and page size, totals).
        pages: every page touched, sorted (``uint64`` page numbers).
        regions: each page's region code (an index into :data:`REGIONS`).
        instructions: instructions per window.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._npz = np.load(self.path, allow_pickle=False)
            self.meta: dict[str, Any] = json.loads(bytes(self._npz["meta"]).decode())
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise ValueError(f"{self.path} is not a page trace: {error}") from None
        if self.meta.get("format") != FORMAT:
            raise ValueError(
                f"{self.path} is page-trace format {self.meta.get('format')!r}; "
                f"this version reads format {FORMAT}"
            )
        self.pages: npt.NDArray[np.uint64] = self._npz["pages"]
        self.regions: npt.NDArray[np.uint8] = self._npz["regions"]
        self.instructions: U32 = self._npz["instructions"]
        self._block = int(self.meta["block"])
        self._cached: tuple[int, list[U32], list[U32]] | None = None

    def __len__(self) -> int:
        return int(self.instructions.size)

    def __repr__(self) -> str:
        return f"PageTrace({str(self.path)!r})"

    # A trace holds an open file: it pickles as its path and reopens (parallel sweeps).
    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    @property
    def page_size(self) -> int:
        """Bytes per recorded page."""
        return int(self.meta["page_size"])

    @property
    def name(self) -> str:
        """The trace's name (its file name without the suffix)."""
        return self.path.name.split(".")[0]

    def region_pages(self, region: str) -> npt.NDArray[np.int64]:
        """Indices (into ``pages``) of the pages of ``region``."""
        return np.flatnonzero(self.regions == REGIONS.index(region))

    def window(self, index: int) -> TraceWindow:
        """Window ``index`` (loading its block if it is not the one in hand)."""
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} is outside 0..{len(self) - 1}")
        b, offset = divmod(index, self._block)
        if self._cached is None or self._cached[0] != b:
            self._cached = (b, self._load("reads", b), self._load("writes", b))
        _, reads, writes = self._cached
        return TraceWindow(index, int(self.instructions[index]), reads[offset], writes[offset])

    def __iter__(self) -> Iterator[TraceWindow]:
        for index in range(len(self)):
            yield self.window(index)

    def _load(self, name: str, block: int) -> list[U32]:
        flat = self._npz[f"{name}.{block:05d}"].astype(np.int64)
        counts = self._npz[f"{name[:-1]}_counts.{block:05d}"].astype(np.int64)
        bounds = np.cumsum(counts)
        return [
            np.cumsum(flat[stop - count : stop]).astype(np.uint32)
            for stop, count in zip(bounds, counts, strict=True)
        ]

"""The requests the Memory Manager handles, the page sets and holders they name, and its
replies that carry several values.

The kernel's trap to it -- :class:`~rhodos.kernel.PageFault` -- is declared in the kernel.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel import INITIAL_STACK_BYTES, Layout, Request

__all__ = [
    "Adopt",
    "Create",
    "CriticalBundle",
    "Describe",
    "ExportCritical",
    "ExportSpace",
    "Fetch",
    "Flush",
    "Free",
    "InstallPages",
    "InstallSpace",
    "Invalidate",
    "PageCopies",
    "PageHolder",
    "PageSet",
    "Push",
    "Release",
    "Relocate",
    "Select",
    "SendPages",
    "SpaceInfo",
    "WaitReleased",
]


class PageSet(enum.Enum):
    """A named set of an address space's pages, as the Memory Manager finds them."""

    #: Every page of the address space.
    ALL = "all"
    #: The pages held here.
    RESIDENT = "resident"
    #: Resident pages written since they were last clean (on the file server or at creation).
    DIRTY = "dirty"
    #: Resident pages written since the last copy that kept them (precopy's rounds).
    MODIFIED = "modified"
    #: Resident pages that are not dirty.
    CLEAN = "clean"
    #: Pages the process has referenced.
    REFERENCED = "referenced"
    #: The current code, heap and stack pages.
    CURRENT = "current"


class PageHolder(enum.Enum):
    """Where a destination will find the pages the source holds when it gets the page map."""

    #: The source node keeps them and serves them on demand.
    SOURCE = "source"
    #: The file server holds them (only clean pages may be left there).
    FILE = "file"


def _page_set(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, PageSet | np.ndarray):
        raise TypeError(
            f"{type(instance).__name__}.{attribute.name} must be a PageSet "
            f"({', '.join(s.name for s in PageSet)}) or an array of page numbers, got {value!r}"
        )


def _holder(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, PageHolder):
        raise TypeError(
            f"{type(instance).__name__}.{attribute.name} must be a PageHolder "
            f"(SOURCE or FILE), got {value!r}"
        )


@attrs.frozen(eq=False)
class PageCopies:
    """Pages with their contents (versions) and dirty bits, as they travel between nodes."""

    pages: npt.NDArray[np.int64]
    versions: npt.NDArray[np.uint32]
    dirty: npt.NDArray[np.bool_]

    @classmethod
    def none(cls) -> PageCopies:
        """No pages."""
        nothing = np.empty(0, dtype=np.int64)
        return cls(nothing, nothing.astype(np.uint32), nothing.astype(np.bool_))


@attrs.frozen(eq=False)
class CriticalBundle:
    """Freeze-free's pages that travel with the execution state: the page map and the
    current code, heap and stack pages, ``wire_bytes`` on the wire (the reply to
    :class:`ExportCritical`), and the stack pointer (``stack_depth``)."""

    layout: Layout
    locations: npt.NDArray[np.int16]
    copies: PageCopies
    prefetch: int
    wire_bytes: int
    stack_depth: int


@attrs.frozen
class SpaceInfo:
    """An address space as its Memory Manager holds it (the reply to :class:`Describe`)."""

    pid: int
    layout: Layout
    pages: int
    resident: int
    dirty: int
    referenced: int
    modified: int
    remote: int
    current: tuple[int, ...]
    #: Page writes per second since the space came to this node (one per page per batch).
    write_rate: float = 0.0


@attrs.frozen
class Create(Request):
    """Process Manager -> Memory Manager: a new, fully resident space of ``layout`` for
    ``pid``; reply its pages."""

    pid: int
    layout: Layout


@attrs.frozen(eq=False)
class Fetch(Request):
    """Memory Manager -> the peer holding pages of a remote fault: send ``pages``; reply the
    :class:`PageCopies` it held (they leave the peer, which counts them as held until the
    reply has arrived)."""

    pid: int
    pages: npt.NDArray[np.int64]


@attrs.frozen(eq=False)
class SendPages(Request):
    """Migration Manager -> source Memory Manager: move (``keep``: copy) the ``which`` pages
    to ``dest`` as ONE flow; reply the pages sent (``None``: the process exited).

    A move unmaps the pages here; a copy keeps them and clears their ``modified`` bits
    (precopy's rounds). ``overwrite`` lets the copies replace pages already resident there.
    """

    pid: int
    dest: int
    which: PageSet | npt.NDArray[np.int64] = attrs.field(validator=_page_set)
    keep: bool = False
    overwrite: bool = True


@attrs.frozen(eq=False)
class InstallPages(Request):
    """Memory Manager -> its peer: the ``copies`` arrive (``overwrite``: replacing resident
    ones); reply the pages installed."""

    pid: int
    copies: PageCopies
    overwrite: bool = True


@attrs.frozen(eq=False)
class InstallSpace(Request):
    """Memory Manager -> its peer: an empty space of ``layout`` whose pages are at
    ``locations`` (a node id, or FILE), with remote faults bringing ``prefetch`` more
    pages, and its stack pointer ``stack_depth`` bytes below the stack's end (it travels
    with the registers); reply its pages."""

    pid: int
    layout: Layout
    locations: npt.NDArray[np.int16]
    prefetch: int = 0
    stack_depth: int = INITIAL_STACK_BYTES


@attrs.frozen
class ExportSpace(Request):
    """Migration Manager -> source Memory Manager: send the page map to ``dest``, where the
    clean and dirty pages resident here will be found at ``clean`` and ``dirty``; reply
    its bytes on the wire (``None``: the process exited).

    The map is region-based: 8 bytes per run of pages at one place.
    """

    pid: int
    dest: int
    clean: PageHolder = attrs.field(default=PageHolder.SOURCE, validator=_holder)
    dirty: PageHolder = attrs.field(default=PageHolder.SOURCE, validator=_holder)
    prefetch: int = 0


@attrs.frozen
class ExportCritical(Request):
    """Migration Manager -> source Memory Manager (freeze-free): reply the
    :class:`CriticalBundle`, with the used part of the stack page (from the stack pointer
    to the page's end); its pages now belong to ``dest`` (nothing crosses the network
    yet). ``None``: the process exited."""

    pid: int
    dest: int


@attrs.frozen(eq=False)
class Adopt(Request):
    """Process Manager -> Memory Manager: install a freeze-free ``bundle`` arrived with the
    execution state; reply the pages installed."""

    pid: int
    bundle: CriticalBundle


@attrs.frozen
class Relocate(Request):
    """Migration Manager -> destination Memory Manager: pages expected at ``old`` are now at
    ``new``; reply how many."""

    pid: int
    old: int
    new: int


@attrs.frozen(eq=False)
class Invalidate(Request):
    """Migration Manager -> destination Memory Manager: the copies of ``pages`` held here are
    stale (written at the source since they were copied): drop them; they are at node
    ``holder``, whence a fault or a transfer will bring them. Reply how many were dropped."""

    pid: int
    pages: npt.NDArray[np.int64]
    holder: int


@attrs.frozen
class Push(Request):
    """Migration Manager -> source Memory Manager: move every resident page to ``dest`` in
    batches of ``batch`` at ``rate`` pages/s (0: as fast as the network goes); reply the
    pages pushed."""

    pid: int
    dest: int
    rate: float
    batch: int


@attrs.frozen(eq=False)
class Flush(Request):
    """Migration Manager -> source Memory Manager: write the ``which`` pages to the file
    server as one flow (they are clean afterwards); reply how many (``None``: no space of
    the process is here any more, it exited)."""

    pid: int
    which: PageSet | npt.NDArray[np.int64] = attrs.field(validator=_page_set)


@attrs.frozen
class Describe(Request):
    """Migration Manager -> Memory Manager: reply ``pid``'s :class:`SpaceInfo` (``None``: no
    space of it here)."""

    pid: int


@attrs.frozen
class Select(Request):
    """Migration Manager -> Memory Manager: reply the page numbers of ``pid``'s set ``which``
    as an array (``None``: no space of it here), for a strategy that computes its own page
    sets."""

    pid: int
    which: PageSet = attrs.field(validator=attrs.validators.instance_of(PageSet))


@attrs.frozen
class WaitReleased(Request):
    """Migration Manager -> source Memory Manager: reply (the instant) once this node holds
    nothing of ``pid`` any more."""

    pid: int


@attrs.frozen
class Free(Request):
    """Process Manager (``at_exit``) or Migration Manager -> Memory Manager: drop ``pid``'s
    space; at the process's exit, peers still holding residual copies are told to
    :class:`Release` them; otherwise the pages served from here that are still on the
    wire are waited for first. Reply its pages (0: none here)."""

    pid: int
    at_exit: bool = False


@attrs.frozen
class Release(Request):
    """Memory Manager -> its peer: drop a residual copy of ``pid``'s pages, never the space
    of a process living there (one-way)."""

    pid: int

"""The layout of an address space: three segments of pages (code, heap/data, stack).

The layout is the contract between a program (which references page numbers), the
kernel (which runs the references) and the Memory Manager (which owns the pages).
"""

from __future__ import annotations

import attrs

__all__ = ["FILE", "HERE", "INITIAL_STACK_BYTES", "SEGMENTS", "ZERO", "Layout", "Segment"]

#: Page location code: the page is resident on the node that holds this map.
HERE = -1
#: Page location code: the page's contents are on the file server.
FILE = -2
#: Page location code: never written anywhere; zero-filled on first touch.
ZERO = -3

SEGMENTS = ("code", "heap", "stack")

#: Bytes of stack in use when a process starts, until its program reports its stack
#: pointer (:class:`~rhodos.kernel.Touch`'s ``stack_depth``). Assumed: 1 KiB for the
#: arguments, the environment and the first frames.
INITIAL_STACK_BYTES = 1024


@attrs.frozen
class Segment:
    """A contiguous run of pages: ``first`` .. ``first + pages - 1``."""

    name: str
    first: int
    pages: int

    @property
    def stop(self) -> int:
        """One past the last page."""
        return self.first + self.pages


@attrs.frozen
class Layout:
    """Segment sizes in pages; a process's address space is built from it."""

    code: int = 1
    heap: int = 1
    stack: int = 1

    def __attrs_post_init__(self) -> None:
        for name in SEGMENTS:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Layout.{name} must be at least 1 page, got {value!r}")

    @property
    def pages(self) -> int:
        """Total pages."""
        return self.code + self.heap + self.stack

    @classmethod
    def from_bytes(cls, total_bytes: int, page_size: int) -> Layout:
        """A layout of ``total_bytes``: 1/8 code, 3/4 heap, 1/8 stack (each at least a page)."""
        pages = max(3, -(-int(total_bytes) // page_size))
        code = max(1, pages // 8)
        stack = max(1, pages // 8)
        return cls(code=code, heap=pages - code - stack, stack=stack)

    def segments(self) -> tuple[Segment, Segment, Segment]:
        """The three segments with their first pages."""
        return (
            Segment("code", 0, self.code),
            Segment("heap", self.code, self.heap),
            Segment("stack", self.code + self.heap, self.stack),
        )

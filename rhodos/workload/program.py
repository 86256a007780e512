"""Programs: what a process runs, as a generator of kernel actions."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np

from rhodos.kernel import Action, Layout

__all__ = ["LaidOut", "Program", "ProgramContext", "ProgramGenerator", "layout_for"]

ProgramGenerator = Generator[Action, Any, None]


@attrs.frozen(eq=False)
class ProgramContext:
    """What a program knows when it starts: its pid, its random stream, its memory, and
    its machine's speed in instructions per second (what a replayed trace needs)."""

    pid: int
    rng: np.random.Generator
    layout: Layout
    page_size: int
    peers: dict[str, int] = attrs.field(factory=dict)
    instructions_per_s: float | None = None


class Program(Protocol):
    """A program: a name, an address-space size, and a generator of actions."""

    @property
    def name(self) -> str:
        """What the process is called in summaries."""
        ...

    @property
    def memory_bytes(self) -> int:
        """The size of its address space."""
        ...

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        """Yield actions; a :class:`~rhodos.kernel.Receive` gets the message sent back."""
        ...


@runtime_checkable
class LaidOut(Protocol):
    """A program that lays out its own address space (a replayed trace does)."""

    def layout(self, page_size: int) -> Layout:
        """Its code, heap and stack pages on pages of ``page_size`` bytes."""
        ...


def layout_for(program: Program, page_size: int) -> Layout:
    """The address space a process of ``program`` gets on pages of ``page_size`` bytes.

    The program's own layout when it has one, else :meth:`Layout.from_bytes` of its
    ``memory_bytes``.
    """
    if isinstance(program, LaidOut):
        return program.layout(page_size)
    return Layout.from_bytes(program.memory_bytes, page_size)

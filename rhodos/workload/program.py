"""Programs: what a process runs, as a generator of kernel actions."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

import attrs
import numpy as np

from rhodos.kernel import Action, Layout

__all__ = ["Program", "ProgramContext", "ProgramGenerator"]

ProgramGenerator = Generator[Action, Any, None]


@attrs.frozen(eq=False)
class ProgramContext:
    """What a program knows when it starts: its pid, its random stream, its memory."""

    pid: int
    rng: np.random.Generator
    layout: Layout
    page_size: int
    peers: dict[str, int] = attrs.field(factory=dict)


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

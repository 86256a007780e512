"""Memory reference models, sampled in batches per compute burst.

A burst of ``t`` CPU seconds references pages at ``refs_per_s``; a fraction
``write_fraction`` of the references write, unless ``dirty_rate`` (pages written per
second) is given, which then sets the writes directly -- the quantity precopy's rounds
depend on. References fall in the working set (a fraction of the heap, plus the
current code page and the stack pointer's page); with probability ``locality`` a
reference goes to the hot tenth of the working set, else anywhere in it. One numpy
draw per burst, never one Python step per reference. ``stack_bytes``, when given, is
the program's stack in use: each batch reports it as the stack pointer, and the stack
page written is the one the stack pointer is on (else the stack segment's last page).
"""

from __future__ import annotations

import attrs
import numpy as np

from rhodos.kernel import Layout, Touch
from rhodos.validators import fraction, non_negative

__all__ = ["ReferenceModel"]


@attrs.frozen
class ReferenceModel:
    """How a program references its pages; see the module docstring."""

    working_set: float = attrs.field(default=1.0, validator=fraction)
    locality: float = attrs.field(default=0.0, validator=fraction)
    write_fraction: float = attrs.field(default=0.3, validator=fraction)
    refs_per_s: float = attrs.field(default=2000.0, validator=non_negative)
    dirty_rate: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(non_negative)
    )
    stack_bytes: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(non_negative)
    )

    @property
    def writes_per_s(self) -> float:
        """Page writes per second: ``dirty_rate`` when given, else the write fraction's share."""
        if self.dirty_rate is not None:
            return self.dirty_rate
        return self.refs_per_s * self.write_fraction

    def burst_for(
        self, burst_s: float, max_writes: float = 8.0, shortest_s: float = 0.002
    ) -> float:
        """The longest burst, at most ``burst_s``, whose batch holds about ``max_writes`` writes.

        A batch's writes land together at the end of its burst; a process writing fast
        in long bursts would dirty memory in lumps that precopy's short last rounds see
        or miss whole. Capping the writes per batch keeps the dirtying smooth; a burst
        is never shorter than ``shortest_s``, so that a process writing hundreds of
        thousands of pages a second does not cost a million events per simulated
        second (its batches then hold ``rate * shortest_s`` writes).
        """
        rate = self.writes_per_s
        if rate <= 0:
            return burst_s
        return min(burst_s, max(shortest_s, max_writes / rate))

    def working_pages(self, layout: Layout) -> np.ndarray:
        """The heap pages of the working set (the first ``working_set`` of the heap)."""
        heap = layout.segments()[1]
        count = max(1, round(self.working_set * heap.pages))
        return np.arange(heap.first, heap.first + count, dtype=np.int64)

    def sample(
        self,
        layout: Layout,
        seconds: float,
        rng: np.random.Generator,
        *,
        code_page: int = 0,
        page_size: int | None = None,
    ) -> Touch:
        """The references of a burst of ``seconds``: one batch, in reference order.

        ``page_size`` places the stack pointer's page; it is needed when ``stack_bytes``
        is given.
        """
        ws = self.working_pages(layout)
        writes_per_s = self.writes_per_s
        reads_per_s = max(0.0, self.refs_per_s - writes_per_s)
        n_reads = int(rng.poisson(reads_per_s * seconds))
        n_writes = int(rng.poisson(writes_per_s * seconds))
        n = n_reads + n_writes
        hot = max(1, ws.size // 10)
        in_hot = rng.random(n) < self.locality
        index = np.where(in_hot, rng.integers(0, hot, n), rng.integers(0, ws.size, n))
        heap_refs = ws[index]
        is_write = np.zeros(n, dtype=np.bool_)
        is_write[rng.permutation(n)[:n_writes]] = True
        stack_page = layout.pages - 1
        if self.stack_bytes:
            if page_size is None:
                raise ValueError("ReferenceModel.sample needs page_size when stack_bytes is given")
            below = min(layout.stack, -(-self.stack_bytes // page_size)) - 1
            stack_page -= below
        pages = np.concatenate(([code_page, stack_page], heap_refs))
        writes = np.concatenate(([False, True], is_write))
        return Touch(pages, writes, self.stack_bytes)

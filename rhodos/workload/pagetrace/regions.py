"""Which region -- code, heap, stack, mapped -- each recorded page belongs to.

valgrind runs the program inside its own process, so ``/proc/<pid>/maps`` of that
process lists the program's mappings (beside valgrind's, which the program never
touches). The recorder reads it every few tens of milliseconds; this module
classifies the touched pages by the mappings seen, the latest sighting of a mapping
winning:

* **code**: pages an instruction was fetched from, and the read-only mappings of
  object files (files with an executable mapping: the program, the dynamic linker,
  the shared libraries) -- their text and constants -- unless the program wrote them
  (relocations the dynamic linker wrote before it made them read-only: data);
* **stack**: the main thread's stack: the anonymous mapping that holds the program's
  first data access (on x86-64 Linux a process's entry code reads ``argc`` from, or
  pushes a return address onto, its initial stack before touching anything else),
  and up to :data:`STACK_LIMIT` below its top, where it grows;
* **heap**: writable private memory: the data and bss of the program and its
  libraries, the brk heap, anonymous mappings (malloc's large blocks and arenas);
* **mapped**: everything else: mappings of other files (data files, locale archives),
  shared mappings, and pages that no sighting covers -- a mapping made and unmapped
  between two readings; :func:`classify` counts those.

Limits: threads' stacks are anonymous mappings and count as heap; a mapping replaced
by another of a different kind at the same address between readings is classified by
the latest one; a program that exits within a few milliseconds may leave no reading
at all, and then only the fetched pages and the stack are told apart.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.workload.pagetrace.format import REGIONS

__all__ = ["STACK_LIMIT", "Mapping", "classify", "parse_maps"]

#: How far below its top the main stack may grow: valgrind's default
#: ``--main-stacksize``, the usual 8 MiB stack limit.
STACK_LIMIT = 8 << 20

CODE, HEAP, STACK, MAPPED = (REGIONS.index(r) for r in ("code", "heap", "stack", "mapped"))


@attrs.frozen
class Mapping:
    """One line of ``/proc/<pid>/maps``: ``start``..``end`` bytes, permissions, path."""

    start: int
    end: int
    perms: str
    path: str


def parse_maps(text: str) -> list[Mapping]:
    """The mappings listed in the text of a ``/proc/<pid>/maps`` file."""
    mappings = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 5:
            continue
        start, _, end = fields[0].partition("-")
        path = fields[5].strip() if len(fields) > 5 else ""
        mappings.append(Mapping(int(start, 16), int(end, 16), fields[1], path))
    return mappings


def _kind(mapping: Mapping, objects: set[str]) -> int:
    """The region of a mapping, by its path and permissions (the stack aside)."""
    private = mapping.perms[3:4] == "p"
    if mapping.path in objects:
        return HEAP if "w" in mapping.perms else CODE
    if private and "w" in mapping.perms and (not mapping.path or mapping.path == "[heap]"):
        return HEAP
    return MAPPED


def classify(
    pages: npt.NDArray[np.uint64],
    page_size: int,
    sightings: list[list[Mapping]],
    fetched: npt.NDArray[np.uint64],
    first_data_address: int | None,
    written: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.uint8], int]:
    """The region of each page (sorted page numbers), and how many no mapping covered.

    Args:
        pages: the pages touched, sorted.
        page_size: bytes per page.
        sightings: the readings of the maps file, oldest first.
        fetched: pages an instruction was fetched from (sorted).
        first_data_address: the address of the program's first load or store.
        written: which of ``pages`` the program wrote.
    """
    regions = np.full(pages.size, MAPPED, dtype=np.uint8)
    covered = np.zeros(pages.size, dtype=np.bool_)
    objects = {m.path for seen in sightings for m in seen if "x" in m.perms and m.path}
    objects -= {"[vsyscall]", "[vdso]"}
    stack: tuple[int, int] | None = None
    for seen in sightings:
        for m in seen:
            lo, hi = np.searchsorted(pages, [m.start // page_size, -(-m.end // page_size)])
            if lo == hi:
                continue
            regions[lo:hi] = _kind(m, objects)
            covered[lo:hi] = True
            holds_first = first_data_address is not None and m.start <= first_data_address < m.end
            if holds_first and not m.path and "w" in m.perms:
                stack = (m.start, m.end)
    if stack is None and first_data_address is not None:
        top = -(-(first_data_address + 1) // page_size) * page_size
        stack = (top - page_size, top)
    if stack is not None:
        low_page = max(0, stack[1] - STACK_LIMIT) // page_size
        lo, hi = np.searchsorted(pages, [low_page, -(-stack[1] // page_size)])
        in_stack = np.zeros(pages.size, dtype=np.bool_)
        in_stack[lo:hi] = True
        # Below the mapping seen, only pages no other mapping claims are stack.
        below = pages < stack[0] // page_size
        in_stack &= ~(below & covered)
        regions[in_stack] = STACK
        covered |= in_stack
    if written is not None:
        regions[(regions == CODE) & written] = HEAP
    is_code = np.isin(pages, fetched)
    regions[is_code] = CODE
    covered |= is_code
    return regions, int(np.count_nonzero(~covered))

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

:func:`allocated` measures what the program *held* rather than what it touched: the
bytes of its mappings, by region, at the reading where they were largest.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.workload.pagetrace.format import REGIONS

__all__ = ["STACK_LIMIT", "Mapping", "allocated", "classify", "parse_maps"]

#: How far below its top the main stack may grow: valgrind's default
#: ``--main-stacksize``, the usual 8 MiB stack limit.
STACK_LIMIT = 8 << 20

CODE, HEAP, STACK, MAPPED = (REGIONS.index(r) for r in ("code", "heap", "stack", "mapped"))
#: Mappings of the kernel and of valgrind's own host process, never the program's.
_NOT_THE_PROGRAMS = ("[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]", "[stack]")


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


def _valgrind_start(seen: list[Mapping]) -> int | None:
    """Where valgrind's tool binary is loaded: its own memory lies from there up."""
    starts = [m.start for m in seen if "/valgrind/" in m.path and "-linux" in m.path]
    return min(starts) if starts else None


def allocated(
    sightings: list[list[Mapping]],
    first_data_address: int | None,
    pages: npt.NDArray[np.uint64],
    page_size: int,
) -> dict[str, int]:
    """The bytes the program had mapped at any reading, by region, each byte counted once.

    What counts as allocated: every mapping of the program with some access (``r``,
    ``w`` or ``x``: address space reserved with no access is not memory), whatever it
    touched of it -- its executable and libraries (code, their data as heap), the brk
    heap and anonymous mappings (heap), the main stack as mapped so far (stack), other
    files (mapped) -- over the whole run: a mapping made and freed later counts.

    Not counted: valgrind's tool and preload objects, the kernel's
    ``[vvar]``/``[vdso]``/``[vsyscall]`` pages and valgrind's host ``[stack]``. valgrind
    keeps its own anonymous memory above its tool binary, where it also places some of
    the program's (xz's large buffers); an anonymous mapping there counts when the
    program touched it (``pages``, sorted), since the program never touches valgrind's.
    So an untouched anonymous mapping up there is missed, as is a mapping made and
    unmapped between two readings (see the module docstring): a lower bound.
    """
    spans: dict[str, list[tuple[int, int]]] = {r: [] for r in REGIONS}
    for seen in sightings:
        objects = {m.path for m in seen if "x" in m.perms and m.path} - set(_NOT_THE_PROGRAMS)
        fence = _valgrind_start(seen)
        for m in seen:
            if not set(m.perms[:3]) - {"-"} or m.path in _NOT_THE_PROGRAMS:
                continue
            if "/valgrind/" in m.path:
                continue
            if first_data_address is not None and m.start <= first_data_address < m.end:
                spans["stack"].append((m.start, m.end))
                continue
            if fence is not None and m.start >= fence and not m.path:
                lo, hi = np.searchsorted(pages, [m.start // page_size, -(-m.end // page_size)])
                if lo == hi:
                    continue  # valgrind's, or the program's but never touched
            spans[REGIONS[_kind(m, objects)]].append((m.start, m.end))
    return {region: _union_bytes(found) for region, found in spans.items()}


def _union_bytes(spans: list[tuple[int, int]]) -> int:
    """Bytes covered by a set of ``[start, end)`` spans, overlaps counted once."""
    total, reach = 0, -1
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total

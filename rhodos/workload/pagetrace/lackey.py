"""Fold valgrind lackey's memory trace into windows of instructions, at numpy speed.

``valgrind --tool=lackey --trace-mem=yes`` writes one line per memory access::

    I  0401ab70,3        an instruction fetch of 3 bytes at 0x0401ab70
     L 04a17de0,8        a load of 8 bytes
     S 1fff000778,8      a store
     M 0402a210,4        a modify (a load and a store of the same bytes)

(addresses in hex, at least 8 digits; sizes in decimal) among valgrind's own
``==pid== ...`` lines. :class:`WindowFolder` reads that text in large byte chunks
and parses each chunk with whole-array numpy operations -- no Python step per line
-- into windows of ``window`` instructions: per window, the sorted unique pages
read (fetches, loads, modifies) and written (stores, modifies). An access that
straddles a page boundary touches both pages. A data access belongs to the window
of the instruction before it.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["FoldedWindow", "WindowFolder", "synthetic_stream"]

U64 = npt.NDArray[np.uint64]

_HEX = np.zeros(256, dtype=np.uint64)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i
_DEC = np.zeros(256, dtype=np.int64)
for _i, _c in enumerate(b"0123456789"):
    _DEC[_c] = _i

_NEWLINE, _COMMA, _SPACE = ord("\n"), ord(","), ord(" ")
_FETCH, _LOAD, _STORE, _MODIFY = ord("I"), ord("L"), ord("S"), ord("M")
#: Bits of a key below the window number: page numbers below 2**40 (a 47-bit user
#: address space in pages of 128 bytes or more); windows above.
_PAGE_BITS = 40


@attrs.frozen(eq=False)
class FoldedWindow:
    """One window: its instruction count and the sorted unique pages read and written."""

    instructions: int
    reads: U64
    writes: U64


_NIBBLE = np.uint64(0x0F0F0F0F0F0F0F0F)
_LETTER = np.uint64(0x0101010101010101)
_PAIRS = (
    (np.uint64(0x00FF00FF00FF00FF), np.uint64(4), np.uint64(8)),
    (np.uint64(0x0000FFFF0000FFFF), np.uint64(8), np.uint64(16)),
    (np.uint64(0x00000000FFFFFFFF), np.uint64(16), np.uint64(32)),
)
#: Bytes of padding before a chunk, so that the 16 bytes before every comma exist.
_PAD = 16


def _pack_hex(word: U64) -> U64:
    """Eight ASCII hex digits (the first the most significant) -> their 32-bit value.

    SWAR: each byte becomes its digit's value ('0'-'9' have bit 6 clear, 'a'-'f' and
    'A'-'F' set, and their low nibbles are the value or the value - 9), then adjacent
    digits merge pairwise, 4 bits, then 8, then 16. A byte that is not a hex digit
    only spoils the digits more significant than itself.
    """
    word = (word & _NIBBLE) + np.uint64(9) * ((word >> np.uint64(6)) & _LETTER)
    for mask, up, down in _PAIRS:
        word = ((word & mask) << up) | ((word >> down) & mask)
    return word


def _hex_field(
    a: npt.NDArray[np.uint8], end: npt.NDArray[np.int64], width: npt.NDArray[np.int64]
) -> U64:
    """The hex numbers of ``width`` (1..16) digits ending just before ``end``, one per line.

    The 16 bytes before each ``end`` are read as two unaligned 64-bit words (``a`` has
    at least 16 bytes before the first ``end``) and converted at once; the digits
    beyond ``width`` are masked off.
    """
    words = np.ndarray(shape=(a.size - 7,), dtype="<u8", buffer=a, offset=0, strides=(1,))
    value = (_pack_hex(words[end - 16]) << np.uint64(32)) | _pack_hex(words[end - 8])
    value &= ~np.uint64(0) >> (np.uint64(64) - np.uint64(4) * width.astype(np.uint64))
    return value


def _dec_field(
    a: npt.NDArray[np.uint8], end: npt.NDArray[np.int64], width: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The decimal numbers of ``width`` digits ending just before ``end``."""
    value = np.zeros(end.size, dtype=np.int64)
    scale = 1
    for j in range(int(width.max()) if width.size else 0):
        digit = _DEC[a[end - 1 - j]]
        digit[j >= width] = 0
        value += digit * scale
        scale *= 10
    return value


class WindowFolder:
    """Folds lackey's text, fed in any pieces, into :class:`FoldedWindow` s.

    Args:
        window: instructions per window.
        page_size: bytes per page (a power of two).
    """

    def __init__(self, window: int = 1_000_000, page_size: int = 4096) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 instruction, got {window!r}")
        if page_size < 1 or page_size & (page_size - 1):
            raise ValueError(f"page_size must be a power of two, got {page_size!r}")
        self.window = window
        self.shift = np.uint64(page_size.bit_length() - 1)
        self.windows: list[FoldedWindow] = []
        #: Every page an instruction was fetched from (sorted, unique).
        self.fetched: U64 = np.zeros(0, dtype=np.uint64)
        #: The address of the first load, store or modify (on the initial stack).
        self.first_data_address: int | None = None
        #: valgrind's own lines (``==pid== ...``), in order.
        self.messages: list[str] = []
        self.records = 0
        self.instructions = 0
        self._tail = b""
        self._open_reads: U64 = np.zeros(0, dtype=np.uint64)
        self._open_writes: U64 = np.zeros(0, dtype=np.uint64)

    def feed(self, data: bytes) -> None:
        """Fold ``data``, a piece of the stream (lines may be cut anywhere)."""
        cut = data.rfind(b"\n")
        if cut < 0:
            self._tail += data
            return
        chunk = b"0" * _PAD + self._tail + data[: cut + 1]
        self._tail = data[cut + 1 :]
        self._fold(np.frombuffer(chunk, dtype=np.uint8))

    def finish(self) -> list[FoldedWindow]:
        """Fold what is left and close the last window; return every window."""
        if self._tail:
            self._fold(np.frombuffer(b"0" * _PAD + self._tail + b"\n", dtype=np.uint8))
            self._tail = b""
        done = len(self.windows) * self.window
        if self.instructions > done or self._open_reads.size or self._open_writes.size:
            self._close(len(self.windows), self._open_reads, self._open_writes)
            self._open_reads = self._open_writes = np.zeros(0, dtype=np.uint64)
        return self.windows

    # -- one chunk ------------------------------------------------------------------
    def _fold(self, a: npt.NDArray[np.uint8]) -> None:
        ends = np.flatnonzero(a == _NEWLINE)
        if not ends.size:
            return
        starts = np.empty_like(ends)
        starts[0] = _PAD
        starts[1:] = ends[:-1] + 1
        first = a[starts]
        is_record = ((first == _FETCH) | (first == _SPACE)) & (ends - starts > 4)
        commas = np.flatnonzero(a == _COMMA)
        if not is_record.all() or commas.size != ends.size:
            for s, e in zip(starts[~is_record], ends[~is_record], strict=True):
                self.messages.append(bytes(a[s:e]).decode("utf-8", "replace"))
            starts, ends = starts[is_record], ends[is_record]
            commas = commas[np.searchsorted(commas, starts)] if starts.size else starts
        if not starts.size:
            return
        kind = np.where(a[starts] == _FETCH, _FETCH, a[starts + 1])
        address = _hex_field(a, commas, commas - starts - 3)
        size = _dec_field(a, ends, ends - commas - 1)
        self._accumulate(kind, address, np.maximum(size, 1).astype(np.uint64))

    def _accumulate(self, kind: npt.NDArray[np.uint8], address: U64, size: U64) -> None:
        fetch = kind == _FETCH
        data = ~fetch
        if self.first_data_address is None and data.any():
            self.first_data_address = int(address[np.argmax(data)])
        # The instruction each record belongs to (a data access: the one before it).
        instruction = np.cumsum(fetch, dtype=np.int64) + (self.instructions - 1)
        self.instructions += int(np.count_nonzero(fetch))
        self.records += kind.size
        window = np.maximum(instruction, 0) // self.window
        low = address >> self.shift
        high = (address + size - np.uint64(1)) >> self.shift
        key_low = (window.astype(np.uint64) << np.uint64(_PAGE_BITS)) | low
        read = fetch | (kind == _LOAD) | (kind == _MODIFY)
        write = (kind == _STORE) | (kind == _MODIFY)
        straddle = high != low
        if straddle.any():
            key_high = key_low + (high - low)  # at most one page further for sizes <= page
            reads = np.concatenate((key_low[read], key_high[read & straddle]))
            writes = np.concatenate((key_low[write], key_high[write & straddle]))
            fetched = np.concatenate((low[fetch], high[fetch & straddle]))
        else:
            reads, writes, fetched = key_low[read], key_low[write], low[fetch]
        self.fetched = np.union1d(self.fetched, _unique(fetched))
        self._split(_unique(reads), _unique(writes), int(window[-1]))

    def _split(self, reads: U64, writes: U64, last: int) -> None:
        """Close every window before ``last``; keep ``last``'s pages open."""
        reads = _merge(self._open_reads, reads)
        writes = _merge(self._open_writes, writes)
        bound = np.uint64(last) << np.uint64(_PAGE_BITS)
        r_cut = int(np.searchsorted(reads, bound))
        w_cut = int(np.searchsorted(writes, bound))
        closed_r, self._open_reads = reads[:r_cut], reads[r_cut:]
        closed_w, self._open_writes = writes[:w_cut], writes[w_cut:]
        r_win = (closed_r >> np.uint64(_PAGE_BITS)).astype(np.int64)
        w_win = (closed_w >> np.uint64(_PAGE_BITS)).astype(np.int64)
        mask = np.uint64((1 << _PAGE_BITS) - 1)
        for w in range(len(self.windows), last):
            rs = slice(*np.searchsorted(r_win, [w, w + 1]))
            ws = slice(*np.searchsorted(w_win, [w, w + 1]))
            self._close(w, closed_r[rs] & mask, closed_w[ws] & mask)

    def _close(self, w: int, reads: U64, writes: U64) -> None:
        start = w * self.window
        count = min(self.window, self.instructions - start)
        mask = np.uint64((1 << _PAGE_BITS) - 1)
        self.windows.append(FoldedWindow(max(count, 0), reads & mask, writes & mask))


def _unique(keys: U64) -> U64:
    """Sorted unique keys; runs of one key (the common case) dropped before sorting."""
    if keys.size > 1:
        keep = np.empty(keys.size, dtype=np.bool_)
        keep[0] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        keys = keys[keep]
    return np.unique(keys)


def _merge(a: U64, b: U64) -> U64:
    """The sorted union of two sorted unique arrays."""
    if not a.size:
        return b
    if not b.size:
        return a
    return np.union1d(a, b)


def synthetic_stream(lines: int, seed: int = 0) -> bytes:
    """A lackey-shaped stream of ``lines`` records, for tests and benchmarks.

    About 60 % instruction fetches running through a 1 MiB code area with jumps, and
    stores to a stack, loads from a heap and modifies of a data area with 10-digit,
    8-digit and 8-digit addresses and sizes of 1 to 32 bytes (some straddle pages),
    between valgrind-style ``==pid==`` lines.
    """
    rng = np.random.default_rng(seed)
    kind = rng.choice(4, size=lines, p=[0.6, 0.15, 0.18, 0.07])
    jump = rng.random(lines) < 0.05
    step = rng.integers(1, 8, size=lines)
    pc = 0x04000000 + np.cumsum(np.where(jump, rng.integers(0, 1 << 20, size=lines), step)) % (
        1 << 20
    )
    stack = 0x1FFEFFF000 - rng.integers(0, 20_000, size=lines)
    heap = 0x04A00000 + rng.integers(0, 2_000_000, size=lines)
    data = 0x05000000 + rng.integers(0, 1_000_000, size=lines)
    size = rng.choice([1, 2, 4, 8, 16, 32], size=lines)
    formats = (b"I  %08x,%d\n", b" S %08x,%d\n", b" L %08x,%d\n", b" M %08x,%d\n")
    addresses = np.choose(kind, [pc, stack, heap, data])
    sizes = np.where(kind == 0, step, size)
    body = b"".join(
        formats[k] % (a, n)
        for k, a, n in zip(kind.tolist(), addresses.tolist(), sizes.tolist(), strict=True)
    )
    return b"==1== Lackey, an example Valgrind tool\n" + body + b"==1== Exit code: 0\n"

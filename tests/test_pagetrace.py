"""Specification of page traces: folding lackey's stream, the file, regions, the replay."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from rhodos.kernel import Compute, Exit, Layout, Touch, load_profile
from rhodos.system import boot, spawn
from rhodos.workload.pagetrace import (
    REGIONS,
    PageMap,
    PageTrace,
    TraceReplay,
    WindowFolder,
    describe,
    plot,
    record,
    shipped_traces,
    write_trace,
)
from rhodos.workload.pagetrace.format import BLOCK
from rhodos.workload.pagetrace.lackey import synthetic_stream
from rhodos.workload.pagetrace.regions import classify as classify_pages
from rhodos.workload.pagetrace.regions import parse_maps
from rhodos.workload.program import ProgramContext, ProgramGenerator

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")


def naive_fold(
    text: bytes, window: int, page_size: int = 4096
) -> list[tuple[int, set[int], set[int]]]:
    """The specification of folding, one line at a time."""
    windows: dict[int, tuple[list[int], set[int], set[int]]] = {}
    instructions = 0
    for line in text.decode().splitlines():
        if line.startswith("=="):
            continue
        kind = line[0] if line[0] == "I" else line[1]
        fields = line[3:].split(",")
        start, size = int(fields[0], 16), int(fields[1])
        instructions += kind == "I"
        count, reads, writes = windows.setdefault(
            max(instructions - 1, 0) // window, ([0], set(), set())
        )
        count[0] += kind == "I"
        pages = range(start // page_size, (start + size - 1) // page_size + 1)
        if kind in "ILM":
            reads.update(pages)
        if kind in "SM":
            writes.update(pages)
    return [(windows[w][0][0], windows[w][1], windows[w][2]) for w in sorted(windows)]


def fold(text: bytes, window: int, piece: int, page_size: int = 4096) -> WindowFolder:
    folder = WindowFolder(window, page_size)
    for i in range(0, len(text), piece):
        folder.feed(text[i : i + piece])
    folder.finish()
    return folder


# -- folding lackey's stream -------------------------------------------------------------
@pytest.mark.parametrize(("window", "piece"), [(1000, 777), (4093, 65536), (50_000, 10**7)])
def test_folding_matches_the_line_by_line_specification(window: int, piece: int) -> None:
    """Windows hold exactly the pages a line-by-line reading finds, however the text is cut."""
    text = synthetic_stream(30_000, seed=3)
    folder = fold(text, window, piece)
    expected = naive_fold(text, window)
    assert [w.instructions for w in folder.windows] == [count for count, _, _ in expected]
    assert [w.reads.tolist() for w in folder.windows] == [sorted(r) for _, r, _ in expected]
    assert [w.writes.tolist() for w in folder.windows] == [sorted(w) for _, _, w in expected]
    assert folder.messages == ["==1== Lackey, an example Valgrind tool", "==1== Exit code: 0"]


def test_an_access_across_a_page_boundary_touches_both_pages() -> None:
    """A store of 8 bytes at 0x1ffc writes pages 1 and 2; a modify reads and writes."""
    folder = fold(b"I  00001000,4\n S 00001ffc,8\n M 00005000,4\n", 10, 100)
    (w,) = folder.windows
    assert w.reads.tolist() == [1, 5]
    assert w.writes.tolist() == [1, 2, 5]
    assert folder.fetched.tolist() == [1]
    assert folder.first_data_address == 0x1FFC


def test_a_data_access_belongs_to_the_window_of_its_instruction() -> None:
    """With windows of 2 instructions, the load after the second fetch is in window 0."""
    text = b"I  00001000,4\nI  00001004,4\n L 00009000,8\nI  00001008,4\n L 0000a000,8\n"
    folder = fold(text, 2, 1 << 20)
    assert [w.instructions for w in folder.windows] == [2, 1]
    assert [w.reads.tolist() for w in folder.windows] == [[1, 9], [1, 10]]


def test_pages_of_512_bytes_split_a_4k_page() -> None:
    """With 512-byte pages, addresses 0x1000 and 0x1200 are pages 8 and 9."""
    folder = fold(b"I  00001000,4\n L 00001200,4\n", 10, 100, page_size=512)
    assert folder.windows[0].reads.tolist() == [8, 9]


def test_folder_rejects_a_bad_window_or_page_size() -> None:
    """A window under one instruction or a page size not a power of two is refused by name."""
    with pytest.raises(ValueError, match="window"):
        WindowFolder(0)
    with pytest.raises(ValueError, match="page_size"):
        WindowFolder(10, 3000)


# -- the trace file ------------------------------------------------------------------------
def synthetic_trace(path: Path, windows: int = 6, seed: int = 0) -> Path:
    """A small trace: 40 pages (code, heap, mapped, stack), random reads and writes."""
    rng = np.random.default_rng(seed)
    pages = np.concatenate(
        [
            0x400 + np.arange(10),  # code
            0x4A00 + np.array([0, 1, 2, 5, 6, 7, 8, 9, 20, 21, 22, 40]),  # heap
            0x7000 + np.arange(8),  # mapped
            0x1FFEFF0 + np.arange(10),  # stack
        ]
    ).astype(np.uint64)
    regions = np.repeat(np.array([0, 1, 3, 2], dtype=np.uint8), [10, 12, 8, 10])  # see REGIONS
    reads, writes = [], []
    for _ in range(windows):
        reads.append(np.flatnonzero(rng.random(pages.size) < 0.4).astype(np.uint32))
        data = np.flatnonzero((rng.random(pages.size) < 0.3) & (regions != 0))
        writes.append(data.astype(np.uint32))
    instructions = [1_000_000] * (windows - 1) + [123_456]
    meta = {
        "command": ["synthetic"],
        "tool": "lackey",
        "valgrind": "none",
        "window": 1_000_000,
        "page_size": 4096,
        "instructions": sum(instructions),
    }
    write_trace(path, meta, pages, regions, instructions, reads, writes)
    return path


def test_a_trace_reads_back_what_was_written(tmp_path: Path) -> None:
    """Every window's reads, writes and instructions come back, across several blocks."""
    rng = np.random.default_rng(1)
    n = 2 * BLOCK + 5
    reads = [
        np.unique(rng.integers(0, 500, rng.integers(0, 30))).astype(np.uint32) for _ in range(n)
    ]
    writes = [
        np.unique(rng.integers(0, 500, rng.integers(0, 9))).astype(np.uint32) for _ in range(n)
    ]
    pages = np.arange(500, dtype=np.uint64) * 3
    meta = {"command": ["x"], "window": 10, "page_size": 4096, "instructions": 10 * n}
    write_trace(
        tmp_path / "t.trace.npz", meta, pages, np.zeros(500, np.uint8), [10] * n, reads, writes
    )
    trace = PageTrace(tmp_path / "t.trace.npz")
    assert len(trace) == n
    for w in [*range(5), BLOCK - 1, BLOCK, n - 1, 3]:
        assert trace.window(w).reads.tolist() == reads[w].tolist()
        assert trace.window(w).writes.tolist() == writes[w].tolist()
    assert [w.instructions for w in trace] == [10] * n
    assert trace.pages.tolist() == pages.tolist()


def test_writing_a_trace_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    """The file holds no date: the same content is the same bytes."""
    a = synthetic_trace(tmp_path / "a.trace.npz").read_bytes()
    b = synthetic_trace(tmp_path / "b.trace.npz").read_bytes()
    assert a == b


def test_a_file_that_is_not_a_trace_is_refused_by_name(tmp_path: Path) -> None:
    """Opening a text file as a trace says which file and why."""
    bad = tmp_path / "bad.npz"
    bad.write_text("hello")
    with pytest.raises(ValueError, match=r"bad.npz is not a page trace"):
        PageTrace(bad)


def test_describe_and_plot_show_a_trace(tmp_path: Path) -> None:
    """The summary counts pages by region; the picture is written."""
    trace = PageTrace(synthetic_trace(tmp_path / "s.trace.npz"))
    text = describe(trace)
    assert "5,123,456 instructions in 6 windows" in text
    assert "40 pages of 4 KiB" in text
    plot(trace, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 10_000


# -- regions ----------------------------------------------------------------------------------
MAPS = """\
00108000-0010a000 r--p 00000000 fe:00 260875     /usr/bin/prog
0010a000-0010f000 r-xp 00002000 fe:00 260875     /usr/bin/prog
00112000-00113000 rw-p 0000a000 fe:00 260875     /usr/bin/prog
04035000-04056000 rwxp 00000000 00:00 0
0483c000-0483d000 r--p 00000000 fe:00 329636     /usr/lib/locale/C.utf8/LC_IDENTIFICATION
58000000-58001000 r--p 00000000 fe:00 341618     /usr/libexec/valgrind/lackey-amd64-linux
1ffeffe000-1fff001000 rw-p 00000000 00:00 0
"""


def test_regions_follow_the_mappings_and_the_first_stack_access() -> None:
    """Program text is code, its data and anonymous memory heap, a locale file mapped, and
    the mapping of the first data access (with room to grow down) stack."""
    page = 4096
    addresses = [0x108000, 0x10A000, 0x112000, 0x4040000, 0x483C000, 0x1FFEFFF000, 0x1FFEF00000]
    addresses += [0x9000000]  # in no mapping
    pages = np.array(sorted(a // page for a in addresses), dtype=np.uint64)
    regions, unmapped = classify_pages(
        pages, page, [parse_maps(MAPS)], np.array([0x10A], np.uint64), 0x1FFF000778
    )
    named = {hex(int(p) * page): REGIONS[r] for p, r in zip(pages, regions, strict=True)}
    assert named == {
        "0x108000": "code",
        "0x10a000": "code",
        "0x112000": "heap",
        "0x4040000": "heap",
        "0x483c000": "mapped",
        "0x9000000": "mapped",
        "0x1ffef00000": "stack",
        "0x1ffefff000": "stack",
    }
    assert unmapped == 1


# -- the replay --------------------------------------------------------------------------------
@attrs.frozen(eq=False)
class Observed:
    """Runs ``inner`` and records, after each Touch, the address space's arrays."""

    inner: TraceReplay
    cluster: Any
    seen: list[tuple[Any, np.ndarray, np.ndarray]] = attrs.field(factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def memory_bytes(self) -> int:
        return self.inner.memory_bytes

    def layout(self, page_size: int) -> Layout:
        return self.inner.layout(page_size)

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        program = self.inner.run(ctx)
        value = None
        while True:
            action = program.send(value)
            if isinstance(action, Exit):
                self.seen.append((action, np.zeros(0), np.zeros(0)))
                yield action
                return
            value = yield action
            space = self.cluster.node(0).debug_server("memory").spaces.get(ctx.pid)
            if space is not None:
                self.seen.append((action, space.version.copy(), space.referenced.copy()))


def replay(trace: PageTrace, profile: str, ips: float = 2e6, loops: int = 1) -> Observed:
    cluster = boot(nodes=1, seed=0, profile=load_profile(profile))
    observed = Observed(TraceReplay(trace, instructions_per_s=ips, loops=loops), cluster)
    spawn(cluster, observed, 0)
    cluster.run()
    return observed


def windows(observed: Observed) -> Iterator[tuple[Compute, Touch, np.ndarray, np.ndarray]]:
    actions = observed.seen
    for i in range(0, len(actions) - 1, 2):
        compute, touch = actions[i][0], actions[i + 1][0]
        yield compute, touch, actions[i][1], actions[i + 1][1]


def test_a_replay_references_exactly_the_recorded_pages_window_by_window(tmp_path: Path) -> None:
    """On 4 KiB pages each window computes instructions / speed, then reads exactly the pages
    it read and writes exactly those it wrote; each written page's version rises by one."""
    trace = PageTrace(synthetic_trace(tmp_path / "s.trace.npz"))
    observed = replay(trace, "modern-10gbe", ips=2e6)
    pagemap = PageMap.build(trace, 4096)
    assert pagemap.layout == Layout(code=10, heap=20, stack=10)
    referenced = np.zeros(pagemap.layout.pages, dtype=np.bool_)
    steps = list(windows(observed))
    assert len(steps) == len(trace)
    for window, (compute, touch, before, after) in zip(trace, steps, strict=True):
        assert isinstance(compute, Compute) and isinstance(touch, Touch)
        assert compute.seconds == window.instructions / 2e6
        reads = pagemap.first[window.reads]
        writes = pagemap.first[window.writes]
        assert touch.pages[~touch.writes].tolist() == reads.tolist()
        assert touch.pages[touch.writes].tolist() == writes.tolist()
        expected = np.zeros_like(before)
        expected[writes] = 1
        assert (after - before).tolist() == expected.tolist()
        referenced[reads] = referenced[writes] = True
        assert observed.seen[2 * window.index + 1][2].tolist() == referenced.tolist()
    assert isinstance(observed.seen[-1][0], Exit)


def test_compact_numbering_keeps_address_order_and_regions(tmp_path: Path) -> None:
    """Code pages come first, then heap and mapped pages, then stack, each in address order."""
    trace = PageTrace(synthetic_trace(tmp_path / "s.trace.npz"))
    pagemap = PageMap.build(trace, 4096)
    assert pagemap.first.tolist() == list(range(40))
    assert pagemap.layout.segments()[2].first == 30


def test_eight_kib_pages_hold_two_recorded_pages(tmp_path: Path) -> None:
    """On a Sun-3's 8 KiB pages, recorded pages 2k and 2k+1 of a region share a page."""
    trace = PageTrace(synthetic_trace(tmp_path / "s.trace.npz"))
    pagemap = PageMap.build(trace, 8192)
    # code 0x400..0x409: 5 pages; heap 0x4a00..: {0,1}{2}{5}{6,7}{8,9}{20,21}{22}{40}: 8;
    # mapped 0x7000..0x7007: 4; stack 0x1ffeff0..0x1ffeff9: 5.
    assert pagemap.layout == Layout(code=5, heap=12, stack=5)
    assert pagemap.first[:10].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert pagemap.first[10:22].tolist() == [5, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11, 12]
    observed = replay(trace, "sun3-ethernet")
    for window, (_, touch, before, after) in zip(trace, windows(observed), strict=True):
        assert (
            touch.pages[touch.writes].tolist() == np.unique(pagemap.first[window.writes]).tolist()
        )
        assert np.flatnonzero(after != before).tolist() == touch.pages[touch.writes].tolist()


def test_512_byte_pages_cover_each_recorded_page_with_eight(tmp_path: Path) -> None:
    """On a PERQ's 512 B pages each recorded page is eight pages, all referenced alike."""
    trace = PageTrace(synthetic_trace(tmp_path / "s.trace.npz"))
    pagemap = PageMap.build(trace, 512)
    assert pagemap.layout == Layout(code=80, heap=160, stack=80)
    observed = replay(trace, "perq-ethernet")
    for window, (_, touch, _, _) in zip(trace, windows(observed), strict=True):
        written = (pagemap.first[window.writes][:, None] + np.arange(8)).reshape(-1)
        assert touch.pages[touch.writes].tolist() == sorted(written.tolist())


def test_a_looping_replay_runs_the_trace_again(tmp_path: Path) -> None:
    """With loops=2 the windows run twice before the process exits."""
    trace = PageTrace(synthetic_trace(tmp_path / "s.trace.npz"))
    observed = replay(trace, "modern-10gbe", loops=2)
    assert len(list(windows(observed))) == 2 * len(trace)


def test_replay_parameters_are_checked_by_name(tmp_path: Path) -> None:
    """A speed that is not positive or a negative loop count is refused, naming the field."""
    trace = PageTrace(synthetic_trace(tmp_path / "s.trace.npz"))
    with pytest.raises(ValueError, match="instructions_per_s"):
        TraceReplay(trace, instructions_per_s=0)
    with pytest.raises(ValueError, match="loops"):
        TraceReplay(trace, instructions_per_s=1e6, loops=-1)


# -- shipped traces ------------------------------------------------------------------------------
def test_shipped_traces_are_small_and_described() -> None:
    """Each shipped trace opens, is under 1 MiB, and has its line in the folder's README."""
    traces = shipped_traces()
    assert traces, "no shipped traces"
    readme = (next(iter(traces.values())).parent / "README.md").read_text()
    for name, path in traces.items():
        trace = PageTrace(path)
        assert path.stat().st_size < 1 << 20
        assert trace.meta["instructions"] == int(trace.instructions.sum())
        assert f"`{name}`" in readme


# -- recording (needs valgrind) -------------------------------------------------------------------
@needs_valgrind
def test_recording_a_deterministic_command_twice_gives_the_same_pages(tmp_path: Path) -> None:
    """Two recordings of one command hold the same windows, pages and regions, byte for byte."""
    command = ["sort", "/etc/services"] if Path("/etc/services").exists() else ["true"]
    first = record(command, tmp_path / "a.trace.npz", window=50_000)
    second = record(command, tmp_path / "b.trace.npz", window=50_000)
    assert first.instructions == second.instructions > 0
    a, b = PageTrace(first.path), PageTrace(second.path)
    assert a.pages.tolist() == b.pages.tolist()
    assert [w.reads.tolist() for w in a] == [w.reads.tolist() for w in b]
    assert [w.writes.tolist() for w in a] == [w.writes.tolist() for w in b]
    assert first.path.read_bytes() == second.path.read_bytes()
    counts = a.meta["pages_by_region"]
    assert counts["code"] > 0 and counts["stack"] > 0 and counts["heap"] > 0


@needs_valgrind
def test_recording_a_missing_command_says_so(tmp_path: Path) -> None:
    """A command that does not exist is refused before valgrind starts."""
    from rhodos.workload.pagetrace import RecordError

    with pytest.raises(RecordError, match="command not found"):
        record(["no-such-command-here"], tmp_path / "x.trace.npz")

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
from rhodos.workload.pagetrace.regions import allocated, parse_maps
from rhodos.workload.pagetrace.regions import classify as classify_pages
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


def replay(trace: PageTrace, profile: str, ips: float | None = 2e6, loops: int = 1) -> Observed:
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


@pytest.mark.parametrize("profile", ["sparc-ethernet", "sun3-ethernet"])
def test_a_shipped_trace_replays_exactly_its_recorded_pages_on_a_profile(profile: str) -> None:
    """A real program's trace on a machine profile: each window computes its instructions at
    the profile's speed, then reads and writes exactly the recorded pages, as that machine's
    pages (4 KiB on a SPARCstation, 8 KiB on a Sun-3), and each written page's version rises."""
    trace = PageTrace(shipped_traces()["sort"])
    machine = load_profile(profile)
    observed = replay(trace, profile, ips=None)
    pagemap = PageMap.build(trace, machine.page_size_bytes)
    steps = list(windows(observed))
    assert len(steps) == len(trace) == 25
    for window, (compute, touch, before, after) in zip(trace, steps, strict=True):
        assert compute.seconds == window.instructions / machine.instructions_per_s
        reads = np.unique(pagemap.first[window.reads])
        writes = np.unique(pagemap.first[window.writes])
        assert touch.pages[~touch.writes].tolist() == reads.tolist()
        assert touch.pages[touch.writes].tolist() == writes.tolist()
        assert np.flatnonzero(after != before).tolist() == writes.tolist()
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


def test_a_replay_without_a_speed_outside_spawn_says_what_it_needs(tmp_path: Path) -> None:
    """A replay given no speed and started without the profile's names both ways to give one."""
    trace = PageTrace(synthetic_trace(tmp_path / "s.trace.npz"))
    layout = PageMap.build(trace, 4096).layout
    context = ProgramContext(pid=1, rng=np.random.default_rng(0), layout=layout, page_size=4096)
    with pytest.raises(ValueError, match="instructions_per_s"):
        next(TraceReplay(trace).run(context))


def test_a_trace_pickles_as_its_path_and_reopens(tmp_path: Path) -> None:
    """A trace sent to a worker process is its path; it reopens with the same windows."""
    import pickle

    trace = PageTrace(synthetic_trace(tmp_path / "s.trace.npz"))
    trace.window(3)
    data = pickle.dumps(trace)
    assert len(data) < 500
    copy = pickle.loads(data)
    assert copy.path == trace.path
    assert [w.writes.tolist() for w in copy] == [w.writes.tolist() for w in trace]


def test_allocated_counts_the_programs_mappings_once_and_not_valgrinds() -> None:
    """Allocated bytes: the program's mappings with some access over every reading, each byte
    once, by region; valgrind's tool, the untouched memory above it and the kernel's not."""
    later = MAPS.replace(
        "04035000-04056000 rwxp 00000000 00:00 0",
        "04035000-04056000 rwxp 00000000 00:00 0\n04100000-04110000 rw-p 00000000 00:00 0",
    ) + (
        "58001000-58002000 r-xp 00001000 fe:00 341618 /usr/libexec/valgrind/lackey-amd64-linux\n"
        "1002001000-1002101000 rwxp 00000000 00:00 0\n"
        "1003000000-1003004000 rw-p 00000000 00:00 0\n"
        "1002101000-1002102000 ---p 00000000 00:00 0\n"
        "7ffd9212e000-7ffd9214f000 rw-p 00000000 00:00 0      [stack]\n"
    )
    touched = np.array([0x1003002000 // 4096], dtype=np.uint64)  # one page above the tool
    held = allocated([parse_maps(MAPS), parse_maps(later)], 0x1FFF000778, touched, 4096)
    assert held == {
        "code": 0x2000 + 0x5000,  # the program's read-only and executable mappings
        # its data, an anonymous mapping, a later one, one above valgrind's tool it touched
        "heap": 0x1000 + 0x21000 + 0x10000 + 0x4000,
        "stack": 0x1FFF001000 - 0x1FFEFFE000,
        "mapped": 0x1000,  # the locale file
    }


def test_trace_workloads_are_named_and_checked() -> None:
    """trace:NAME is a workload; an unknown trace lists the shipped ones; a trace sets its own
    size, so a scenario refuses memory_bytes for it, and loops for anything but a trace."""
    from rhodos.experiment import Scenario
    from rhodos.kernel import ConfigError
    from rhodos.workload import make_workload

    workload = make_workload("trace:sqlite", loops=2)
    assert workload.name == "trace:sqlite"
    with pytest.raises(ValueError, match=r"unknown trace 'sqlit' \(did you mean 'sqlite'\?\)"):
        make_workload("trace:sqlit")
    with pytest.raises(ValueError, match="loop"):
        make_workload("trace:sqlite", loop=2)
    with pytest.raises(ConfigError, match="memory_bytes, dirty_rate cannot be set for trace:xz"):
        Scenario(workload="trace:xz", memory_bytes="4MiB", dirty_rate=5.0)
    with pytest.raises(ConfigError, match="loops applies to a recorded program"):
        Scenario(workload="memory-writer", loops=3)


def test_a_trace_row_reports_the_traces_own_figures() -> None:
    """A migration of trace:sqlite reports the replayed space and the trace's dirty rate on
    the profile, not the synthetic defaults."""
    from rhodos.experiment import Scenario, run_migration, scenario_row

    scenario = Scenario(profile="modern-10gbe", workload="trace:sqlite", migrate_at=0.005)
    row = scenario_row(scenario, run_migration(scenario, "eager", baseline=1.0))
    trace = PageTrace(shipped_traces()["sqlite"])
    writes = sum(w.writes.size for w in trace)
    seconds = int(trace.instructions.sum()) / load_profile("modern-10gbe").instructions_per_s
    assert row["memory_bytes"] == trace.pages.size * 4096
    assert row["dirty_rate"] == pytest.approx(writes / seconds, rel=1e-6)
    assert row["pages_bytes"] == trace.pages.size * 4096


def test_a_sweep_over_a_trace_gives_the_same_rows_on_two_workers(tmp_path: Path) -> None:
    """A sweep of trace:sqlite run on two worker processes writes the rows it writes serially."""
    from rhodos.experiment.config import SweepConfig
    from rhodos.experiment.executor import PoolExecutor, SerialExecutor
    from rhodos.experiment.sweep import run_sweep

    config = SweepConfig.from_dict(
        {
            "sweep": {
                "profile": "modern-10gbe",
                "workload": "trace:sqlite",
                "strategy": ["eager", "postcopy"],
                "migrate_at": [0.004, 0.01],
            }
        }
    )
    run_sweep(config, tmp_path / "serial", executor=SerialExecutor())
    with PoolExecutor(2) as pool:
        run_sweep(config, tmp_path / "pool", executor=pool)

    def rows(folder: Path) -> list[str]:
        lines = (folder / "results.csv").read_text().splitlines()[1:]
        return sorted(lines, key=lambda line: int(line.split(",")[0]))

    assert len(rows(tmp_path / "serial")) == 4
    assert rows(tmp_path / "pool") == rows(tmp_path / "serial")


def test_a_sweep_refuses_a_migration_after_the_trace_ends() -> None:
    """migrate_at past a trace's CPU time on the profile is refused before anything runs."""
    from rhodos.experiment.config import SweepConfig
    from rhodos.experiment.schema import SweepConfigError

    config = SweepConfig.from_dict(
        {"sweep": {"profile": "modern-10gbe", "workload": "trace:sqlite", "migrate_at": 1.0}}
    )
    with pytest.raises(SweepConfigError, match="not before trace:sqlite ends"):
        config.plan()


def test_load_sharing_can_share_real_programs() -> None:
    """Four sqlite jobs on a SPARCstation share two machines; a trace's size is not a knob."""
    from rhodos.experiment.loadsharing import load_sharing

    sparc = load_profile("sparc-ethernet")
    result = load_sharing(sparc, nodes=2, jobs=4, workload="trace:sqlite", strategy="postcopy")
    assert result.migrations == 2 and 1.0 < result.speedup < 2.0
    with pytest.raises(ValueError, match="cannot be set for trace:sqlite"):
        load_sharing(sparc, workload="trace:sqlite", cpu_seconds=1.0)


# -- the command line -----------------------------------------------------------------------------
def test_trace_show_prints_a_summary_and_draws(tmp_path: Path) -> None:
    """rhodos trace show NAME prints the summary; an unknown name exits 2 with one line."""
    from typer.testing import CliRunner

    from rhodos.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["trace", "show", "sqlite", "--plot", str(tmp_path / "t.png")])
    assert result.exit_code == 0, result.output
    assert "56,080,425 instructions" in result.output
    assert (tmp_path / "t.png").stat().st_size > 10_000
    result = runner.invoke(app, ["trace", "show", "nonesuch"])
    assert result.exit_code == 2
    assert "unknown trace 'nonesuch'" in result.output


def test_trace_record_without_valgrind_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no valgrind on the PATH, rhodos trace record exits 2 saying how to install it."""
    from typer.testing import CliRunner

    from rhodos.cli import app

    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(app, ["trace", "record", "--out", "x.npz", "--", "true"])
    assert result.exit_code == 2
    assert "'valgrind' is not installed" in result.output


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


def test_the_real_programs_experiment_divides_by_each_traces_allocated_bytes() -> None:
    """experiments/real-programs writes each trace's allocated bytes into its claims: they are
    the shipped traces' own (re-recording a trace must update them)."""
    import tomllib

    from rhodos.experiment.reproduce import experiments_root

    data = tomllib.loads((experiments_root() / "real-programs/experiment.toml").read_text())
    claims = {c["id"]: c["value"] for c in data["claims"]}
    for name, path in shipped_traces().items():
        allocated = PageTrace(path).meta["allocated_bytes"]
        assert claims[f"fetched-{name}"] == f"100 * {name}.pages_bytes / {allocated}"
        assert f"{name}.pages_bytes / {allocated}" in claims["fetched"]


# -- recording (needs valgrind) -------------------------------------------------------------------
@needs_valgrind
def test_recording_a_deterministic_command_twice_gives_the_same_pages(tmp_path: Path) -> None:
    """Two recordings of one command hold the same windows, pages, regions and metadata; only
    the allocated bytes, sampled from the memory map every 20 ms, may differ (one run may
    catch a short-lived mapping the other misses), and both cover every page touched."""
    command = ["sort", "/etc/services"] if Path("/etc/services").exists() else ["true"]
    first = record(command, tmp_path / "a.trace.npz", window=50_000)
    second = record(command, tmp_path / "b.trace.npz", window=50_000)
    assert first.instructions == second.instructions > 0
    a, b = PageTrace(first.path), PageTrace(second.path)
    assert a.pages.tolist() == b.pages.tolist()
    assert [w.reads.tolist() for w in a] == [w.reads.tolist() for w in b]
    assert [w.writes.tolist() for w in a] == [w.writes.tolist() for w in b]
    sampled = ("allocated_bytes", "allocated_by_region")
    assert {k: v for k, v in a.meta.items() if k not in sampled} == {
        k: v for k, v in b.meta.items() if k not in sampled
    }
    for trace in (a, b):
        assert trace.meta["allocated_bytes"] >= trace.pages.size * trace.page_size
    counts = a.meta["pages_by_region"]
    assert counts["code"] > 0 and counts["stack"] > 0 and counts["heap"] > 0


@needs_valgrind
def test_recording_a_missing_command_says_so(tmp_path: Path) -> None:
    """A command that does not exist is refused before valgrind starts."""
    from rhodos.workload.pagetrace import RecordError

    with pytest.raises(RecordError, match="command not found"):
        record(["no-such-command-here"], tmp_path / "x.trace.npz")

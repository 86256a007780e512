"""A recorded program's strategy map: migration point x bandwidth, with the synthetic
map's prediction beside each winner; bad combinations refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_contract import breach, invoke

from rhodos.experiment.tracemap import TraceMap, TraceMapGrid, compute_trace_map, draw_trace_map
from rhodos.kernel import load_profile
from rhodos.migration_manager.map import CANDIDATES, METRICS
from rhodos.workload.pagetrace import open_trace, trace_figures


@pytest.fixture(scope="module")
def sort_map() -> TraceMap:
    """The quick map of the shipped ``sort`` trace on a SPARCstation."""
    return compute_trace_map(TraceMapGrid("trace:sort").quick())


def test_each_cell_is_the_program_itself_and_names_the_argmin(sort_map: TraceMap) -> None:
    """Every cell carries the trace's own size and dirty rate on the profile; its winner
    has the lowest value of each metric; a later migration point leaves no more of the
    address space to be touched than an earlier one."""
    profile = load_profile("sparc-ethernet")
    figures = trace_figures(open_trace("sort"), profile.page_size_bytes, profile.instructions_per_s)
    assert len(sort_map.cells) == 4 and sort_map.points == (0.25, 0.75, 0.25, 0.75)
    for cell, guess in zip(sort_map.cells, sort_map.predicted, strict=True):
        assert (cell.memory_bytes, cell.dirty_rate) == (figures.memory_bytes, figures.dirty_rate)
        assert set(guess) == set(METRICS) and set(guess.values()) <= set(CANDIDATES)
        for metric in METRICS:
            values = cell.metrics[metric]
            assert set(values) == set(CANDIDATES)
            assert values[cell.winner(metric)] == min(values.values())
    for bandwidth in sort_map.grid.bandwidths_bps:
        early, _ = sort_map.cell(0.25, bandwidth)
        late, _ = sort_map.cell(0.75, bandwidth)
        assert 0 < late.touch_fraction <= early.touch_fraction <= 1


def test_the_map_is_drawn_and_written_as_json(sort_map: TraceMap, tmp_path: Path) -> None:
    """One PNG per metric; the JSON holds the grid and every cell with its prediction."""
    paths = draw_trace_map(sort_map, tmp_path)
    assert len(paths) == len(METRICS) and all(p.stat().st_size > 5_000 for p in paths)
    data = json.loads(sort_map.to_json())
    assert data["grid"]["workload"] == "trace:sort" and len(data["cells"]) == 4
    assert {"point", "metrics", "predicted", "bandwidth_bps"} <= set(data["cells"][0])


def test_rhodos_map_takes_a_recorded_program(tmp_path: Path) -> None:
    """``rhodos map --workload trace:sqlite --quick`` writes the trace map's files."""
    out = tmp_path / "maps"
    result = invoke(["map", "--workload", "trace:sqlite", "--quick", "--out", str(out)])
    assert result.exit_code == 0 and breach(result) is None, result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "trace-map-bytes.png",
        "trace-map-freeze.png",
        "trace-map-slowdown.png",
        "trace-map-total.png",
        "trace-map.json",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workload", "memory-writer"], "a map's workload is a recorded program"),
        (["--workload", "trace:nope"], "unknown trace 'nope'"),
        (["--workload", "trace:sort", "--install-map"], "--install-map takes the synthetic map"),
        (["--profile", "modern-10gbe"], "--profile applies to a recorded program's map"),
        (["--workload", "trace:cc1"], "does not fit in the 16 MiB of a sparc-ethernet node"),
        (["--workload", "trace:sort", "--node-memory", "lots"], "lots"),
    ],
)
def test_rhodos_map_refuses_bad_combinations_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """Exit 2, one ``error:`` line naming what is wrong, and nothing written."""
    out = tmp_path / "maps"
    result = invoke(["map", "--quick", "--out", str(out), *args])
    assert result.exit_code == 2 and breach(result) is None
    assert message in result.output
    assert not out.exists()

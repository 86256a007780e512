"""The timeline exporter: Chrome trace event JSON that Perfetto opens, true to the record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment import Scenario, baseline_completion, compare, run_migration
from rhodos.experiment.trace import TraceRecorder
from rhodos.kernel import Cluster
from rhodos.migration_manager import MigrationRecord, registered

#: Keys every event of a phase type must carry (Chrome trace event format).
REQUIRED = {
    "X": ("name", "cat", "ph", "ts", "dur", "pid", "tid", "args"),
    "i": ("name", "cat", "ph", "ts", "pid", "tid", "s"),
    "s": ("name", "cat", "ph", "id", "ts", "pid", "tid"),
    "f": ("name", "cat", "ph", "id", "ts", "pid", "tid", "bp"),
    "M": ("name", "ph", "pid", "tid", "args"),
}

SCENARIO = Scenario(memory_bytes="256KiB", cpu_seconds=1.0, migrate_at=0.2)


def structure_problems(trace: dict[str, Any]) -> list[str]:
    """What breaks the Chrome trace event format (or this layout's promises) in ``trace``."""
    problems: list[str] = []
    events = trace["traceEvents"]
    names = {(e["pid"], e["tid"], e["name"]) for e in events if e["ph"] == "M"}
    starts: dict[tuple[int, str], dict[str, Any]] = {}
    finishes: dict[tuple[int, str], list[dict[str, Any]]] = {}
    lanes: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for e in events:
        missing = [key for key in REQUIRED.get(e["ph"], ("known phase",)) if key not in e]
        if missing:
            problems.append(f"lacks {missing}: {e}")
            continue
        if e["ph"] == "M":
            continue
        for key in ("ts", "dur"):
            value = e.get(key, 0)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                problems.append(f"{key} is not a non-negative number: {e}")
        if (e["pid"], 0, "process_name") not in names:
            problems.append(f"pid without a process_name: {e}")
        if (e["pid"], e["tid"], "thread_name") not in names:
            problems.append(f"tid without a thread_name: {e}")
        if e["ph"] == "X":
            ns = round(e["ts"] * 1000)
            lanes.setdefault((e["pid"], e["tid"]), []).append((ns, ns + round(e["dur"] * 1000)))
        elif e["ph"] == "s":
            if (e["id"], e["cat"]) in starts:
                problems.append(f"flow started twice: {e}")
            starts[(e["id"], e["cat"])] = e
        elif e["ph"] == "f":
            if e["bp"] != "e":
                problems.append(f"flow finish not bound to its enclosing slice: {e}")
            finishes.setdefault((e["id"], e["cat"]), []).append(e)
    for flow, start in starts.items():
        ends = finishes.get(flow, [])
        if len(ends) != 1:
            problems.append(f"flow {flow} has {len(ends)} finishes")
        elif ends[0]["ts"] < start["ts"] or ends[0]["name"] != start["name"]:
            problems.append(f"flow {flow} finishes before it starts, or under another name")
    problems.extend(f"flow {flow} never starts" for flow in finishes if flow not in starts)
    for lane, spans in lanes.items():  # Perfetto needs the slices of a lane to nest
        open_ends: list[int] = []
        for begin, end in sorted(spans, key=lambda span: (span[0], -span[1])):
            while open_ends and open_ends[-1] <= begin:
                open_ends.pop()
            if open_ends and end > open_ends[-1]:
                problems.append(f"slice {begin}..{end} overlaps its parent on {lane}")
            open_ends.append(end)
    return problems


def traced(
    strategy: str, scenario: Scenario = SCENARIO
) -> tuple[dict[str, Any], MigrationRecord, Cluster]:
    """Run one migration with a recorder; the trace, the record and the cluster."""
    recorder = TraceRecorder()
    seen: list[Cluster] = []

    def observe(label: str, cluster: Cluster) -> None:
        seen.append(cluster)
        recorder.observe(label, cluster)

    baseline = baseline_completion(scenario)  # not observed: only the migrated run is traced
    record = run_migration(scenario, strategy, baseline=baseline, observe=observe)
    return recorder.trace(), record, seen[0]


def lane(trace: dict[str, Any], pid: int, name: str) -> int:
    """The tid of lane ``name`` of trace pid ``pid``."""
    [tid] = [
        e["tid"]
        for e in trace["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == pid
        if e["args"]["name"] == name
    ]
    return int(tid)


def on_lane(trace: dict[str, Any], pid: int, tid: int) -> list[dict[str, Any]]:
    """The slices of lane ``tid`` of ``pid``, in time order."""
    return [
        e for e in trace["traceEvents"] if e["ph"] == "X" and (e["pid"], e["tid"]) == (pid, tid)
    ]


def us(seconds: float) -> float:
    return seconds * 1e6


#: The classic strategies (whatever else is registered), one trace each.
CLASSIC = [
    name
    for name in (
        "eager",
        "eager-dirty",
        "precopy",
        "copy-on-reference",
        "flushing",
        "freeze-free",
        "postcopy",
    )
    if name in registered()
]


@pytest.mark.parametrize("strategy", CLASSIC)
def test_every_strategy_gives_a_well_formed_trace(strategy: str) -> None:
    """Keys per phase type, non-negative times, named pids and tids, paired flows, nesting."""
    trace, record, _ = traced(strategy)
    assert record.ok
    assert trace["displayTimeUnit"] == "ms"
    assert structure_problems(trace) == []


@pytest.mark.parametrize("strategy", ["eager", "precopy", "freeze-free"])
def test_phase_slices_follow_the_record(strategy: str) -> None:
    """One slice per marked phase, in order, from its time to the next's, in µs."""
    trace, record, _ = traced(strategy)
    tid = lane(trace, 100 + record.source, "migration")
    slices = [
        e
        for e in trace["traceEvents"]
        if e["ph"] == "X" and e["pid"] == 100 + record.source and e["tid"] == tid
    ]
    outer, *phases = slices
    assert outer["name"] == f"migrate pid {record.pid} → node {record.destination}"
    assert outer["args"]["strategy"] == strategy
    times = sorted(record.phases, key=lambda phase: phase[1])
    assert [e["name"] for e in phases] == [name for name, _ in times]
    ends = [at for _, at in times[1:]] + [times[-1][1]]
    for e, (_, at), end in zip(phases, times, ends, strict=True):
        assert e["ts"] == pytest.approx(us(at), abs=1e-3)
        assert e["ts"] + e["dur"] == pytest.approx(us(end), abs=1e-3)
    assert outer["ts"] == pytest.approx(us(record.requested_at), abs=1e-3)
    end = max(record.resumed_at, record.residual_end_at)
    assert outer["ts"] + outer["dur"] == pytest.approx(us(end), abs=1e-3)


def test_process_states_show_the_freeze() -> None:
    """The process runs on the source, is frozen from the freeze to the resume, runs on."""
    trace, record, _ = traced("eager")
    source, dest = 100 + record.source, 100 + record.destination

    def states(pid: int) -> list[dict[str, Any]]:
        tid = lane(trace, pid, f"thread pid {record.pid}")
        return on_lane(trace, pid, tid)

    running, frozen = states(source)
    [moved] = states(dest)
    assert (running["name"], frozen["name"], moved["name"]) == ("running", "frozen", "running")
    assert running["ts"] + running["dur"] == pytest.approx(us(record.frozen_at), abs=1e-3)
    assert frozen["ts"] == pytest.approx(us(record.frozen_at), abs=1e-3)
    assert frozen["dur"] == pytest.approx(us(record.freeze_s), abs=1e-3)
    assert moved["ts"] == pytest.approx(us(record.resumed_at), abs=1e-3)


def test_every_remote_message_is_a_flow_between_nodes() -> None:
    """Each message that crossed the network: a slice at the sender, a flow to the receiver."""
    trace, _, cluster = traced("copy-on-reference")
    sent = {dict(e.fields)["msg"]: e for e in cluster.log.select("send", "network")}
    arrived = {dict(e.fields)["msg"]: e for e in cluster.log.select("arrive", "network")}
    events = trace["traceEvents"]
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = {e["id"]: e for e in events if e["ph"] == "f"}
    assert set(starts) == set(ends) == set(arrived)
    slices = {(e["pid"], e["tid"], e["ts"], e["cat"]): e for e in events if e["ph"] == "X"}
    for msg, start in starts.items():
        fields = dict(sent[msg].fields)
        end = ends[msg]
        assert start["cat"] == end["cat"] == fields["traffic"]
        assert start["pid"] == 100 + sent[msg].node
        assert end["pid"] == 100 + arrived[msg].node == 100 + fields["dst"]
        assert start["ts"] == pytest.approx(us(sent[msg].time), abs=1e-3)
        assert start["ts"] <= end["ts"] <= us(arrived[msg].time) + 1e-3
        out = slices[(start["pid"], start["tid"], start["ts"], start["cat"])]
        into = slices[(end["pid"], end["tid"], end["ts"], end["cat"])]
        assert out["args"]["bytes"] == into["args"]["bytes"] == fields["bytes"]
        assert out["ts"] + out["dur"] == pytest.approx(us(arrived[msg].time), abs=1e-3)
    lanes = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert {lanes[(e["pid"], e["tid"])].split(" #")[0] for e in starts.values()} == {"network"}
    assert {lanes[(e["pid"], e["tid"])] for e in ends.values()} == {"network in"}


def test_cpu_lane_adds_up_to_the_kernel_time() -> None:
    """The cpu lane's slices are the node's kernel work: they sum to its CPU statistics."""
    trace, record, cluster = traced("eager")
    for node in (record.source, record.destination):
        tid = lane(trace, 100 + node, "cpu")
        busy = on_lane(trace, 100 + node, tid)
        assert {e["name"] for e in busy} == {"kernel"}
        kernel_s = cluster.node(node).cpu.statistics().kernel_seconds
        assert sum(e["dur"] for e in busy) == pytest.approx(us(kernel_s), rel=1e-9)


def test_same_seed_same_trace(tmp_path: Path) -> None:
    """Two runs of the same scenario and seed write identical files, byte for byte."""
    paths = []
    for name in ("one", "two"):
        recorder = TraceRecorder()
        run_migration(SCENARIO, "postcopy", observe=recorder.observe)
        paths.append(recorder.write(tmp_path / f"{name}.json"))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_compare_puts_each_run_in_its_own_pid_range() -> None:
    """Every strategy of a comparison in one file: pids 100*(i+1)+node, flows never collide."""
    recorder = TraceRecorder(lambda label, _cluster: label != "baseline")
    records = compare(SCENARIO, ["eager", "postcopy"], observe=recorder.observe)
    trace = recorder.trace()
    assert recorder.labels == ["eager", "postcopy"]
    assert structure_problems(trace) == []
    process_names = {
        e["pid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"
    }
    assert process_names[100] == "node 0 (compute) [eager]"
    assert process_names[201] == "node 1 (compute) [postcopy]"
    assert process_names[202] == "node 2 (file-server) [postcopy]"
    for i, record in enumerate(records):
        outer = next(
            e
            for e in trace["traceEvents"]
            if e["ph"] == "X" and e["name"].startswith("migrate") and e["pid"] == 100 * (i + 1)
        )
        assert outer["args"]["strategy"] == record.strategy


def test_select_and_limit_choose_the_runs() -> None:
    """A sweep traces one chosen run: ``select`` picks by label, ``limit`` caps the count."""
    recorder = TraceRecorder(lambda label, _cluster: label not in ("baseline", "eager"), limit=1)
    compare(SCENARIO, ["eager", "postcopy", "precopy"], observe=recorder.observe)
    assert recorder.labels == ["postcopy"]


def test_cli_trace_writes_a_file_perfetto_can_parse(tmp_path: Path) -> None:
    """``rhodos migrate --trace FILE.json`` writes the migrated run's timeline."""
    path = tmp_path / "eager.json"
    result = CliRunner().invoke(
        app,
        ["migrate", "-s", "eager", "--memory", "256KiB", "--at", "0.2", "--trace", str(path)],
    )
    assert result.exit_code == 0, result.output
    trace = json.loads(path.read_text())
    assert structure_problems(trace) == []
    labels = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    assert labels == {
        "node 0 (compute) [eager]",
        "node 1 (compute) [eager]",
        "node 2 (file-server) [eager]",
    }
    assert f"wrote {path}" in result.output


def test_the_structure_check_catches_broken_traces() -> None:
    """The checker above is itself honest: it flags a lone flow, a bad time, an overlap."""
    names = [
        {"name": "process_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": "n"}},
        {"name": "thread_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "l"}},
    ]

    def slice_(ts: float, dur: float) -> dict[str, Any]:
        return {"name": "x", "cat": "c", "ph": "X", "ts": ts, "dur": dur, "pid": 1, "tid": 1}

    lone = {"name": "m", "cat": "c", "ph": "s", "id": 7, "ts": 0, "pid": 1, "tid": 1}
    for broken in (
        [lone],
        [{**slice_(0, 1), "args": {}, "ts": -1}],
        [{**slice_(0, 2), "args": {}}, {**slice_(1, 2), "args": {}}],
        [{**slice_(0, 1), "args": {}, "pid": 2}],
    ):
        assert structure_problems({"traceEvents": names + broken}) != []
    assert structure_problems({"traceEvents": [*names, {**slice_(0, 1), "args": {}}]}) == []


def test_sweep_trace_writes_the_chosen_run(tmp_path: Path) -> None:
    """``rhodos sweep --trace FILE --trace-run N`` writes run N's timeline, valid and named."""
    example = Path(__file__).resolve().parents[1] / "examples" / "sweep-small.toml"
    path = tmp_path / "run1.json"
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(example),
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "1",
            "--set",
            "replications=1",
            "--no-progress",
            "--trace",
            str(path),
            "--trace-run",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    trace = json.loads(path.read_text())
    assert structure_problems(trace) == []
    assert any(e["name"].startswith("migrate") for e in trace["traceEvents"] if e["ph"] == "X")
    bad = CliRunner().invoke(
        app,
        [
            "sweep",
            str(example),
            "--out",
            str(tmp_path / "o2"),
            "--trace",
            str(path),
            "--trace-run",
            "99",
            "--set",
            "replications=1",
        ],
    )
    assert bad.exit_code == 2 and "--trace-run must be a run number 0..3" in bad.output

"""The message-sequence chart: true to the event log, current in the docs, readable."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import rhodos.experiment.chart as chart
from rhodos.cli import app
from rhodos.experiment import Scenario, run_migration
from rhodos.experiment.messages import SENDERS
from rhodos.experiment.sequence import Sequence, SequenceRecorder
from rhodos.experiment.trace import TraceRecorder
from rhodos.kernel import Request
from rhodos.migration_manager import BUILTINS, MigrationRecord

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"


def chart_of(strategy: str, scenario: Scenario | None = None) -> tuple[Sequence, MigrationRecord]:
    """The sequence of one migration of ``scenario`` (default: migrate's) and its record."""
    recorder = SequenceRecorder(lambda label, _: label != "baseline")
    record = run_migration(scenario or Scenario(), strategy, observe=recorder.observe)
    return recorder.sequence(record), record


def every_request() -> list[type[Request]]:
    """Every request class of rhodos (not those other tests declare)."""
    import rhodos.system  # noqa: F401  (every server, so every request class, imported)

    found, todo = [], list(Request.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__.startswith("rhodos.")]


def test_every_request_names_its_sender() -> None:
    """The chart knows who sends every request the servers handle (a new one fails here)."""
    missing = sorted({cls.kind for cls in every_request()} - set(SENDERS))
    assert missing == []


def test_the_docs_charts_are_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make timelines`, run again, gives the data of every chart in docs/images: one per
    built-in strategy (the pictures are not compared: their bytes vary with matplotlib)."""
    recipe = (ROOT / "Makefile").read_text().split("\ntimelines:", 1)[1].split("\n\n", 1)[0]
    made = re.findall(r"--strategy (\S+) --timeline docs/images/msc-(\S+)\.png", recipe)
    assert made == [(cls.name, cls.name) for cls in BUILTINS]
    monkeypatch.setattr(chart, "save_picture", lambda *args, **kwargs: None)
    stale = []
    for name, _ in made:
        out = tmp_path / f"msc-{name}.png"
        result = CliRunner().invoke(app, ["migrate", "--strategy", name, "--timeline", str(out)])
        assert result.exit_code == 0, result.output
        assert (IMAGES / f"msc-{name}.png").is_file()
        shipped = IMAGES / f"msc-{name}.json"
        if not shipped.is_file() or json.loads(shipped.read_text()) != json.loads(
            out.with_suffix(".json").read_text()
        ):
            stale.append(name)
    assert stale == [], f"stale charts in docs/images: {stale}; run `make timelines`"


def lanes_of(sequence: Sequence) -> set[str]:
    return {lane.key for lane in sequence.lanes}


@pytest.mark.parametrize("strategy", ["eager", "freeze-free", "postcopy"])
def test_every_arrow_joins_two_lanes_and_every_request_gets_its_reply(strategy: str) -> None:
    """Each arrow leaves one lane and reaches another; a request answered within the chart
    has exactly one reply, going back the way it came."""
    sequence, _ = chart_of(strategy)
    assert all({a.src, a.dst} <= lanes_of(sequence) and a.src != a.dst for a in sequence.arrows)
    requests = [a for a in sequence.arrows if not a.reply]
    replies = [a for a in sequence.arrows if a.reply]
    assert replies and len(replies) <= len(requests)
    for reply in replies:
        asked = [a for a in requests if (a.src, a.dst) == (reply.dst, reply.src)]
        assert any(a.sent <= reply.sent for a in asked), reply


def test_eager_chart_shows_the_copy_between_its_phases() -> None:
    """Eager's page copy is one arrow of 1 MiB from the source's Memory Manager to the
    destination's, inside the phase from page-map-sent to pages-sent, the process frozen."""
    sequence, record = chart_of("eager")
    copy = [a for a in sequence.arrows if a.name == "install_pages"]
    assert [(a.src, a.dst, a.bytes) for a in copy] == [("0.memory", "1.memory", 1 << 20)]
    phase = next(p for p in sequence.phases if p.name == "page-map-sent")
    assert phase.start <= copy[0].sent and copy[0].arrived is not None
    assert copy[0].arrived <= phase.end
    assert phase.end == record.phase("pages-sent") - record.requested_at
    frozen = [s for s in sequence.states if s.name == "frozen"]
    assert [(s.lane, s.start, s.end) for s in frozen] == [
        ("0.thread", record.frozen_at - record.requested_at, record.freeze_s + frozen[0].start)
    ]


def test_a_long_run_of_fetches_is_elided_and_counted() -> None:
    """Copy-on-reference's page faults are one elided run whose count is every remote
    fault of the record; only its first and last round trips are drawn."""
    sequence, record = chart_of("copy-on-reference")
    assert [(e.src, e.dst, e.name, e.count) for e in sequence.elisions] == [
        ("1.memory", "0.memory", "fetch", record.remote_faults)
    ]
    assert len([a for a in sequence.arrows if a.name == "fetch"]) == 2


def test_the_perfetto_trace_is_the_same_when_a_chart_is_drawn_too() -> None:
    """Logging every local message for the chart changes nothing in the Perfetto trace."""
    scenario = Scenario(memory_bytes="256KiB", cpu_seconds=1.0, migrate_at=0.2)
    alone, beside = TraceRecorder(), TraceRecorder()
    charted = SequenceRecorder()

    def both(label: str, cluster: Any) -> None:
        beside.observe(label, cluster)
        charted.observe(label, cluster)

    first = run_migration(scenario, "postcopy", baseline=1.0, observe=alone.observe)
    second = run_migration(scenario, "postcopy", baseline=1.0, observe=both)
    assert first == second
    assert alone.trace() == beside.trace()


def test_the_log_keeps_local_messages_only_when_asked() -> None:
    """By default the kernel logs the network's messages only, as before."""
    events: list[Any] = []

    def keep(label: str, cluster: Any) -> None:
        cluster.log.subscribe(events.append)

    run_migration(Scenario(memory_bytes="64KiB"), "eager", baseline=1.0, observe=keep)
    assert not [e for e in events if (e.component, e.event) == ("kernel", "local")]
    sends = [dict(e.fields) for e in events if (e.component, e.event) == ("network", "send")]
    assert sends and all("port" not in f for f in sends)


def test_migrate_draws_a_picture_with_its_data_beside_it(tmp_path: Path) -> None:
    """`migrate --timeline x.png` writes the PNG and x.json; a picture needs its suffix."""
    out = tmp_path / "charts" / "x.png"
    args = ["migrate", "-s", "eager-dirty", "--memory", "64KiB", "--timeline", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["strategy"] == "eager-dirty" and data["arrows"] and data["phases"]
    wrong = CliRunner().invoke(app, ["migrate", "-s", "eager", "--timeline", "x.txt"])
    assert wrong.exit_code == 2
    assert "a chart is a .png, .svg, .pdf file" in wrong.output

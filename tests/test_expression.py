"""The claim language reads the runs' data and nothing else, and its work is bounded.

The hostile expressions are those of the adversarial probe of the evaluator: each is
refused with an ExperimentError, or computed, within a small time. The ones that once
hung or exhausted memory run in a child process with a timeout and a memory limit, so
that a regression fails the suite instead of hanging it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import attrs
import pytest

from rhodos.experiment.claims import ExperimentError
from rhodos.experiment.expression import MAX_DEPTH, MAX_LENGTH, check, evaluate
from rhodos.experiment.reproduce import load_experiment
from rhodos.migration_manager import MigrationRecord

RECORD = MigrationRecord(
    strategy="eager",
    pid=1,
    source=0,
    destination=1,
    requested_at=0.0,
    accepted_at=0.1,
    frozen_at=0.1,
    resumed_at=0.2,
    residual_end_at=0.2,
    bytes_by_kind={"state": 3072},
    state_bytes=3072,
    phases=(("frozen", 0.1), ("round-2", 0.12), ("round-2", 0.15), ("resumed", 0.2)),
)
NAMES: dict[str, Any] = {"ff": RECORD, "lazy": [RECORD, attrs.evolve(RECORD, resumed_at=0.3)]}


def test_a_claim_reads_the_runs_with_arithmetic_and_the_five_functions() -> None:
    """Attributes, indexing, + - * / **, min, max, abs, len and values() compute as written."""
    assert evaluate("ff.latency_s * 1e3", NAMES) == pytest.approx(100.0)
    assert evaluate("max(values(lazy, 'latency_s')) / min(values(lazy, 'latency_s'))", NAMES) == (
        pytest.approx(2.0)
    )
    assert evaluate("ff.bytes_by_kind['state'] / 2 ** 10", NAMES) == 3.0
    assert evaluate("abs(-lazy[1].latency_s) + len(lazy)", NAMES) == pytest.approx(2.2)
    assert evaluate("lazy[-1].freeze_s", NAMES) == pytest.approx(0.2)


def test_a_claim_reads_when_a_phase_first_happened() -> None:
    """``phase_at`` maps each phase to its first time: a part of the freeze is a difference."""
    assert evaluate("(ff.resumed_at - ff.phase_at['round-2']) * 1e3", NAMES) == pytest.approx(80.0)


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("ff.__class__", "may not be read"),
        ("ff._NAN", "may not be read"),
        ("values(lazy, '__class__')", "may not be read"),
        ("values(values(lazy, 'metrics'), '__globals__')[0]['__builtins__']['open']", "read"),
        ("values(values(lazy, 'metrics'), 'x')", "is a method, not a value"),
        ("max(values(lazy, '__init__'))", "may not be read"),
        ("ff.bytes_by_kind['_private']", "may not be read"),
        ("ff.metrics", "is a method, not a value"),
        ("ff.metrics()", "calls are to"),
        ("[x for x in lazy]", "not part of the claim language"),
        ("lazy[0:1]", "slices are not allowed"),
        ("lazy[5].latency_s", "outside a series of 2"),
        ("ff.latency_s / 0", "by zero"),
        ("(-8) ** 0.5", "not a real number"),
        ("'a' + 'b'", "arithmetic takes numbers"),
        ("len(ff)", "len() takes a series"),
        ("min(values(lazy, 'params'))", "takes numbers"),
        ("ff.no_such_metric", "has no attribute"),
        ("-" * 200000 + "1", f"longer than {MAX_LENGTH}"),
        ("-" * 900 + "1", f"deeper than {MAX_DEPTH}"),
        ("(" * 300 + "1" + ")" * 300, "cannot be read"),
        ("ff.latency_s +", "cannot be read"),
        ("True * 2", "not a number or a string"),
    ],
)
def test_what_is_not_the_runs_data_is_refused_by_name(expression: str, why: str) -> None:
    """Private names anywhere, methods, other syntax, bad arithmetic: one clear error each."""
    with pytest.raises(ExperimentError, match="claim expression") as caught:
        evaluate(expression, NAMES)
    assert why in str(caught.value)


def test_data_that_is_not_a_number_is_returned_for_the_verdict_to_refuse() -> None:
    """A dict or a list is data: it is returned (the verdict then says it is not a number)."""
    assert evaluate("lazy[0].params", NAMES) == {}
    assert evaluate("values(lazy, 'rounds')", NAMES) == [(), ()]


def test_constant_arithmetic_is_checked_when_the_experiment_is_loaded() -> None:
    """A claim that can never be computed is refused before any run: 9**9**9 overflows."""
    with pytest.raises(ExperimentError, match="too large for a float"):
        check("ff.latency_s * 9**9**9", ["ff"])
    with pytest.raises(ExperimentError, match="no run called 'nope'"):
        check("nope.latency_s", ["ff"])
    check("ff.latency_s * 1e3", ["ff"])


#: The expressions that hung or exhausted memory before the work was bounded.
ONCE_HUNG = [
    "9**9**9",
    "10**10**10",
    "2**-2**62",
    "'a' * 10**10",
    "'a' * 2**62",
    "ff.bytes_by_kind['state'] * 10**8 * 10**8 * 'x'",
]

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    from pathlib import Path
    import attrs
    from rhodos.experiment.claims import ExperimentError
    from rhodos.experiment.expression import evaluate
    from rhodos.experiment.reproduce import load_experiment
    from rhodos.migration_manager import MigrationRecord

    record = MigrationRecord(strategy="eager", pid=1, source=0, destination=1,
        requested_at=0.0, accepted_at=0.1, frozen_at=0.1, resumed_at=0.2,
        residual_end_at=0.2, bytes_by_kind={"state": 3072}, state_bytes=3072)
    names = {"ff": record, "lazy": [record, attrs.evolve(record, resumed_at=0.3)]}
    expressions, root = json.loads(sys.argv[1]), Path(sys.argv[2])
    for expression in expressions:
        started = time.perf_counter()
        try:
            outcome = "value " + repr(evaluate(expression, names))
        except ExperimentError as error:
            outcome = "refused " + str(error)
        print(json.dumps([expression, outcome, time.perf_counter() - started]), flush=True)
    started = time.perf_counter()
    try:
        load_experiment("evil-pow", root=root)
        outcome = "loaded"
    except ExperimentError as error:
        outcome = "refused " + str(error)
    print(json.dumps(["evil-pow", outcome, time.perf_counter() - started]), flush=True)
    """
)

EVIL_POW = """title = "hostile claim expression"
profile = "sparc-ethernet"

[runs.ff]
strategy = "eager"
scenario = { workload = "cpu-bound", cpu_seconds = 0.2, migrate_at = 0.05, memory_bytes = "64KiB" }

[[claims]]
id = "latency"
metric = "latency"
unit = "ms"
value = "ff.latency_s * 9**9**9"
paper = 1.0
tolerance_pct = 10
role = "prediction"
basis = "paper"
"""


def test_what_once_hung_is_refused_or_computed_at_once(tmp_path: Path) -> None:
    """Huge powers and repeated strings end within a second each, in a child process that a
    timeout kills (a regression fails here instead of hanging the suite)."""
    (tmp_path / "evil-pow").mkdir()
    (tmp_path / "evil-pow" / "experiment.toml").write_text(EVIL_POW)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(ONCE_HUNG), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    outcomes = {e: (o, t) for e, o, t in map(json.loads, child.stdout.splitlines())}
    assert set(outcomes) == {*ONCE_HUNG, "evil-pow"}
    for expression, (outcome, seconds) in outcomes.items():
        assert seconds < 1.0, (expression, seconds)
        if expression == "2**-2**62":
            assert outcome == "value 0.0"  # an underflow is a number, computed at once
        else:
            assert outcome.startswith("refused claim expression"), (expression, outcome)
    assert "too large for a float" in outcomes["9**9**9"][0]
    assert "arithmetic takes numbers" in outcomes["'a' * 10**10"][0]


def test_a_bad_expression_in_an_experiment_is_refused_when_it_is_loaded(tmp_path: Path) -> None:
    """Private names are refused when the experiment is read, before anything runs."""
    folder = tmp_path / "probe"
    folder.mkdir()
    text = EVIL_POW.replace(
        "ff.latency_s * 9**9**9", "values(values(ff, 'metrics'), '__globals__')"
    )
    (folder / "experiment.toml").write_text(text)
    with pytest.raises(ExperimentError, match="may not be read"):
        load_experiment("probe", root=tmp_path)

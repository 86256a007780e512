"""The how-to's example strategies: under 100 lines, registered, and conformant."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from rhodos.experiment import Scenario, compare
from rhodos.migration_manager import BaseStrategy, registered, unregister
from rhodos.testing import check_strategy, conformance_scenarios, run_conformance

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
EXAMPLE = EXAMPLES / "working_set.py"
HYBRID = EXAMPLES / "precopy_postcopy.py"


def imported(path: Path, name: str) -> Iterator[Any]:
    """Import an example (which registers its strategy); unregister it afterwards."""
    spec = importlib.util.spec_from_file_location(f"{path.stem}_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield getattr(module, name)
    unregister(getattr(module, name).name)
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def working_set() -> Iterator[str]:
    """The working-set example's name, registered for the module's tests."""
    for cls in imported(EXAMPLE, "WorkingSet"):
        yield cls.name


@pytest.fixture(scope="module")
def hybrid() -> Iterator[type[Any]]:
    """The precopy-then-postcopy example's class, registered for the module's tests."""
    yield from imported(HYBRID, "PrecopyPostcopy")


@pytest.mark.parametrize("example", [EXAMPLE, HYBRID], ids=lambda p: p.stem)
def test_the_examples_are_student_sized_files(example: Path) -> None:
    """Each example strategy is one file of under 100 lines."""
    assert len(example.read_text().splitlines()) < 100


def test_importing_the_example_registers_it(working_set: str) -> None:
    """The @register decorator makes it available by name."""
    assert working_set in registered()


@pytest.mark.parametrize("scenario", [s.name for s in conformance_scenarios()])
def test_the_example_passes_the_conformance_suite(working_set: str, scenario: str) -> None:
    """Every invariant holds for the example strategy in every conformance scenario."""
    result = run_conformance(working_set, scenario, seed=1)
    assert list(result.violations) == []


@attrs.frozen
class EagerAgain(BaseStrategy):
    """The base steps under another name, and not registered."""

    name: ClassVar[str] = "eager-again"
    summary: ClassVar[str] = "the defaults"
    residual: ClassVar[str] = "none"


def test_one_call_checks_a_strategy_class_that_is_not_registered() -> None:
    """``check_strategy(cls)`` registers it for the run, runs every scenario, and lets go."""
    results = check_strategy(EagerAgain)
    assert [r.scenario for r in results] == [s.name for s in conformance_scenarios()]
    assert all(r.strategy == "eager-again" and r.ok and r.records for r in results)
    assert "eager-again" not in registered()


def test_one_call_refuses_a_class_whose_name_another_strategy_holds() -> None:
    """A class named like a registered strategy it is not is refused, naming the name."""

    @attrs.frozen
    class Impostor(BaseStrategy):
        name: ClassVar[str] = "eager"

    with pytest.raises(ValueError, match="another strategy is registered as 'eager'"):
        check_strategy(Impostor)


def test_the_hybrid_passes_the_conformance_suite(hybrid: type[Any]) -> None:
    """One precopy round then postcopy, built on the Session alone, keeps every invariant."""
    results = check_strategy(hybrid)
    assert [(r.scenario, list(r.violations)) for r in results] == [
        (s.name, []) for s in conformance_scenarios()
    ]


def test_the_hybrid_moves_each_stale_page_once_and_freezes_less(hybrid: type[Any]) -> None:
    """The pages written during the round (read from the source as an array) are dropped
    at the destination and come back after the resume: moved in one flow, or fetched by
    a fault first (a fault while the flow is on its way fetches a page the flow also
    carries, as with postcopy's push); the freeze is postcopy's, not precopy's last round."""
    scenario = Scenario()
    records = {r.strategy: r for r in compare(scenario, ["precopy", "postcopy", hybrid.name])}
    record = records[hybrid.name]
    stale = next(int(p.split("-")[1]) for p, _ in record.phases if p.startswith("invalidated-"))
    first, moved = record.rounds
    assert first == 128 and stale > 0
    assert moved <= stale <= moved + record.remote_faults
    page = scenario.profile.page_size_bytes
    assert record.pages_bytes == (first + moved + record.remote_faults) * page
    assert record.freeze_s < records["precopy"].freeze_s
    assert record.freeze_s == pytest.approx(records["postcopy"].freeze_s, rel=0.05)

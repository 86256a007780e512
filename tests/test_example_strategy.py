"""The how-to's example strategy: under 100 lines, registered, and conformant."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import attrs
import pytest

from rhodos.migration_manager import BaseStrategy, registered, unregister
from rhodos.testing import check_strategy, conformance_scenarios, run_conformance

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "working_set.py"


@pytest.fixture(scope="module")
def working_set() -> Iterator[str]:
    """Import the example (which registers it), and unregister it afterwards."""
    spec = importlib.util.spec_from_file_location("working_set_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module.WorkingSet.name
    unregister(module.WorkingSet.name)
    sys.modules.pop(spec.name, None)


def test_the_example_is_a_student_sized_file() -> None:
    """The example strategy is one file of under 100 lines."""
    assert len(EXAMPLE.read_text().splitlines()) < 100


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

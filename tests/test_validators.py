"""Specification of the shared validators: one meaning per word, everywhere it is used."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import pytest

from rhodos.experiment import Scenario
from rhodos.migration_manager import make_strategy
from rhodos.validators import (
    did_you_mean,
    fraction,
    non_negative,
    one_of,
    positive,
    positive_fraction,
    within,
)
from rhodos.workload import ReferenceModel, make_workload

RULES = {"positive": positive, "non_negative": non_negative}
RULES.update(fraction=fraction, positive_fraction=positive_fraction)

#: value -> the words that accept it.
ACCEPTED: list[tuple[Any, set[str]]] = [
    (-1, set()),
    (0, {"non_negative", "fraction"}),
    (0.0, {"non_negative", "fraction"}),
    (0.5, set(RULES)),
    (1, set(RULES)),
    (1.5, {"positive", "non_negative"}),
    (np.float64(0.25), set(RULES)),
    (np.int64(3), {"positive", "non_negative"}),
    (math.inf, set()),
    (-math.inf, set()),
    (10**400, {"positive", "non_negative"}),
    (math.nan, set()),
    (True, set()),
    ("1", set()),
    (None, set()),
]


@pytest.mark.parametrize(("value", "accepted"), ACCEPTED)
def test_each_word_accepts_exactly_its_range(value: Any, accepted: set[str]) -> None:
    """positive > 0, non_negative >= 0, fraction [0, 1], positive_fraction (0, 1]; finite
    numbers only (an int of any size is finite)."""
    for word, rule in RULES.items():
        assert rule.holds(value) == (word in accepted), (word, value)


def test_an_attrs_field_out_of_range_is_named_with_the_range() -> None:
    """Used as an attrs validator, a rule's error names the field, the range and the value."""

    @attrs.frozen
    class Knob:
        share: float = attrs.field(validator=fraction)

    with pytest.raises(ValueError, match=r"^share must be within \[0, 1\], got 1\.5$"):
        Knob(1.5)


def test_check_names_the_subject_and_raises_the_callers_error() -> None:
    """``check`` serves values that are not fields, with the caller's error class."""

    class Custom(ValueError):
        pass

    with pytest.raises(Custom, match=r"^the rate must be >= 0, got -2$"):
        non_negative.check("the rate", -2, Custom)
    with pytest.raises(ValueError, match=r"must be one of 'shared', 'star', got 'ring'"):
        one_of(("shared", "star")).check("topology", "ring")


def test_within_names_its_bounds_and_unit_as_people_write_them() -> None:
    """A range says its interval in short numbers and its unit; an infinite value is told
    that it must be finite; a huge integer is shown by its size, not its 400 digits."""
    seconds = within(0, 1e6, "s", above=True)
    assert seconds.holds(1e6) and not seconds.holds(0) and not seconds.holds(1e6 + 1)
    with pytest.raises(ValueError, match=r"^t must be within \(0, 1e6\] s, got 0$"):
        seconds.check("t", 0)
    with pytest.raises(ValueError, match=r"^t must be finite and within \(0, 1e6\] s, got inf$"):
        seconds.check("t", math.inf)
    with pytest.raises(ValueError, match=r"^n must be within \[2, 32767\], got an integer of "):
        within(2, 32767).check("n", 10**400)
    assert within(1e-4, 1e4).words == "within [0.0001, 10000]"
    assert within(1e3, 1e13, "bit/s").words == "within [1000, 1e13] bit/s"


def test_fraction_means_the_same_in_every_layer() -> None:
    """The reference model and the workloads take [0, 1]; the scenario's touch_fraction
    is a positive_fraction, (0, 1], since a migrated process touches some of its heap."""
    assert ReferenceModel(working_set=0.0).working_set == 0.0
    assert make_workload("cpu-bound", working_set=0.0) is not None
    with pytest.raises(ValueError, match=r"working_set must be within \[0, 1\]"):
        make_workload("memory-writer", working_set=1.5)
    with pytest.raises(ValueError, match=r"touch_fraction must be within \(0, 1\], got 0"):
        Scenario(touch_fraction=0)
    assert Scenario(touch_fraction=1).touch_fraction == 1


def test_a_strategy_parameter_error_names_the_strategy() -> None:
    """Strategy parameters use the same words; the error says whose parameter it is."""
    with pytest.raises(ValueError, match=r"^precopy parameter max_rounds must be > 0, got 0$"):
        make_strategy("precopy", max_rounds=0)


def test_a_workload_parameter_out_of_range_is_refused() -> None:
    """Workload parameters are validated when the workload is built, naming the field."""
    with pytest.raises(ValueError, match=r"^dirty_rate must be >= 0, got -1"):
        make_workload("memory-writer", dirty_rate=-1.0)


def test_did_you_mean_suggests_the_nearest_name_or_nothing() -> None:
    """The hint quotes the nearest candidate (or shows it as asked); empty when none is near."""
    assert did_you_mean("pingpng", ["pingpong", "stream"]) == " (did you mean 'pingpong'?)"
    assert did_you_mean("sweeps", ["sweep"], show=lambda t: f"[{t}]") == " (did you mean [sweep]?)"
    assert did_you_mean("zzz", ["pingpong"]) == ""

"""Specification of the queueing models load sharing is checked against."""

from __future__ import annotations

import pytest

from rhodos.load.queueing import (
    mm1_response,
    supermarket_closed_form,
    supermarket_fixed_point,
    supermarket_response,
)


@pytest.mark.parametrize("lam", [0.5, 0.7, 0.9, 0.99])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_the_computed_fixed_point_is_mitzenmachers_closed_form(lam: float, d: int) -> None:
    """Integrating the supermarket equations from an empty system lands on
    s_i = lambda^((d^i - 1) / (d - 1)) at every level, to machine precision."""
    computed = supermarket_fixed_point(lam, d)
    assert computed == pytest.approx(supermarket_closed_form(lam, d, computed.size), abs=1e-13)


def test_one_choice_is_the_m_m_1_queue() -> None:
    """With d = 1 every arrival joins a random queue: M/M/1, mean time 1 / (1 - rho)."""
    for lam in (0.5, 0.7, 0.9):
        assert supermarket_response(lam, 1) == pytest.approx(mm1_response(lam), rel=1e-12)


def test_the_mean_time_in_system_is_the_sum_quoted_from_the_paper() -> None:
    """T = sum over i >= 1 of lambda^((d^i - d) / (d - 1)) (Mitzenmacher 2001); 2.6141 s for
    d = 2 at lambda = 0.9, against 10 s for a single choice."""
    for lam, d in ((0.9, 2), (0.9, 3), (0.7, 2)):
        paper = sum(lam ** ((d**i - d) / (d - 1)) for i in range(1, 40))
        assert supermarket_response(lam, d) == pytest.approx(paper, rel=1e-12)
    assert supermarket_response(0.9, 2) == pytest.approx(2.6141, abs=1e-4)


def test_out_of_range_loads_are_refused() -> None:
    """The models hold below saturation only."""
    with pytest.raises(ValueError, match="rho must be in"):
        mm1_response(1.0)
    with pytest.raises(ValueError, match="lambda must be in"):
        supermarket_fixed_point(1.0, 2)

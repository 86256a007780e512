"""The queueing models load sharing is checked against, computed rather than typed in.

* **M/M/1** (and M/G/1 with processor sharing): a node without load sharing is a single
  server fed by Poisson arrivals; its mean response time is ``E[S] / (1 - rho)``,
  whatever the distribution of the demands when the CPU is shared (processor sharing).
* **The supermarket model** (Mitzenmacher, IEEE TPDS 12(10), 2001): N queues, Poisson
  arrivals of rate ``lambda N``, exponential service of rate 1; each arrival joins the
  shortest of ``d`` queues chosen at random. As N grows, the fraction ``s_i`` of queues
  holding at least ``i`` customers follows

      ds_i/dt = lambda (s_{i-1}^d - s_i^d) - (s_i - s_{i+1}),   s_0 = 1,

  whose fixed point is ``s_i = lambda^((d^i - 1) / (d - 1))``; by Little's law the mean
  time in the system is ``(1 / lambda) * sum_{i >= 1} s_i``. :func:`supermarket_fixed_point`
  integrates the equations from an empty system to their fixed point (and polishes it
  by solving the stationary equations), so the closed form is a check, not an input.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import integrate, linalg

__all__ = [
    "mm1_response",
    "supermarket_closed_form",
    "supermarket_fixed_point",
    "supermarket_response",
]


def mm1_response(rho: float, mean_service: float = 1.0) -> float:
    """Mean response time of an M/M/1 (or M/G/1-PS) queue at load ``rho``."""
    if not 0 <= rho < 1:
        raise ValueError(f"rho must be in [0, 1), got {rho!r}")
    return mean_service / (1.0 - rho)


def _levels(lam: float, tail: float = 1e-16) -> int:
    """How many levels ``s_1 .. s_K`` to keep: enough that ``lambda^K`` (the M/M/1 tail, which
    bounds every ``d``) is below ``tail``."""
    return math.ceil(math.log(tail) / math.log(lam)) + 2


def _drift(s: npt.NDArray[np.float64], lam: float, d: int) -> npt.NDArray[np.float64]:
    """ds/dt of Mitzenmacher's equations for ``s = (s_1, .., s_K)`` (``s_{K+1} = 0``)."""
    full = np.concatenate(([1.0], np.clip(s, 0.0, 1.0), [0.0]))
    arrivals = lam * (full[:-2] ** d - full[1:-1] ** d)
    departures = full[1:-1] - full[2:]
    result: npt.NDArray[np.float64] = arrivals - departures
    return result


def _banded_jacobian(s: npt.NDArray[np.float64], lam: float, d: int) -> npt.NDArray[np.float64]:
    """The Jacobian of :func:`_drift` in banded form (it is tridiagonal): row 0 the
    superdiagonal, row 1 the diagonal, row 2 the subdiagonal."""
    full = np.concatenate(([1.0], np.clip(s, 0.0, 1.0)))
    slope = lam * d * full ** (d - 1)
    bands = np.zeros((3, s.size))
    bands[0, 1:] = 1.0  # d(ds_i)/d(s_{i+1})
    bands[1, :] = -slope[1:] - 1.0  # d(ds_i)/d(s_i)
    bands[2, :-1] = slope[1:-1]  # d(ds_{i+1})/d(s_i)
    return bands


def supermarket_fixed_point(lam: float, d: int) -> npt.NDArray[np.float64]:
    """The fixed point ``(s_1, s_2, ...)`` of the supermarket equations, computed.

    The equations are integrated from an empty system until they stop moving, then the
    stationary equations are solved from there by Newton's method, to machine precision.
    """
    if not 0 < lam < 1:
        raise ValueError(f"lambda must be in (0, 1), got {lam!r}")
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d!r}")
    levels = _levels(lam)
    state = np.zeros(levels)
    horizon = 100.0  # long enough to come near; Newton's method below does the rest
    solution = integrate.solve_ivp(
        lambda _t, s: _drift(s, lam, d),
        (0.0, horizon),
        state,
        method="LSODA",
        jac=lambda _t, s: _banded_jacobian(s, lam, d),
        lband=1,
        uband=1,
        rtol=1e-10,
        atol=1e-14,
    )
    state = solution.y[:, -1]
    for _ in range(50):  # Newton's method on the stationary equations, from there
        step = linalg.solve_banded((1, 1), _banded_jacobian(state, lam, d), _drift(state, lam, d))
        state = np.clip(state - step, 0.0, 1.0)
        if np.max(np.abs(step)) < 1e-15:
            break
    if np.max(np.abs(_drift(state, lam, d))) > 1e-12:
        raise RuntimeError(f"the supermarket equations did not settle (lambda={lam}, d={d})")
    return np.asarray(state, dtype=np.float64)


def supermarket_closed_form(lam: float, d: int, levels: int) -> npt.NDArray[np.float64]:
    """``s_i = lambda^((d^i - 1) / (d - 1))`` for ``i = 1 .. levels`` (``lambda^i`` if d = 1)."""
    i = np.arange(1, levels + 1, dtype=np.float64)
    with np.errstate(over="ignore"):  # d^i overflows to inf far out: lambda^inf = 0
        exponent = i if d == 1 else (np.power(float(d), i) - 1.0) / (d - 1)
        return np.power(lam, exponent)


def supermarket_response(lam: float, d: int) -> float:
    """Mean time in the system of the supermarket model, from the computed fixed point."""
    return float(supermarket_fixed_point(lam, d).sum() / lam)

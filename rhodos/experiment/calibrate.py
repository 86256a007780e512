"""Calibration: fit profile fields to a paper's figures, and say how much the fit predicts.

A profile is derived from a paper's hardware; when a cost cannot be read from it, it is
fitted to a figure the paper measured, and that figure becomes a calibration: matching
it shows that the fit worked, nothing more. An experiment records its fit in a
``[calibrate]`` table (the base profile, the fields fitted with their bounds, fields
tied to them, the claims they are fitted to; see :mod:`rhodos.experiment.reproduce`),
and :func:`calibrate` redoes it:

* **the fit**: least squares (:func:`scipy.optimize.least_squares`, trust region
  reflective, within the bounds) on relative residuals ``(simulated - paper) / paper``,
  so that figures in different units weigh alike;
* **leave-one-out**: each fitted claim is left out in turn, the fields are refitted on
  the others, and the left-out figure is predicted: how well the fit predicts what it
  was not fitted to. With as many fields as claims nothing is left to fit on, and the
  report says so;
* **what the fit predicts**: the experiment's other claims on the base profile and on
  the fitted one;
* **plausibility**: each fitted field is checked against a physical range with its
  reason (:data:`PLAUSIBLE`); a field the fit drives out of its range is flagged, as a
  sign that the field absorbs a cost the model does not have.

The objective is made cheap: it runs only the runs the fitted claims read, without the
run that only the slowdown needs, on the scenarios' fixed seeds (so it is
deterministic), and keeps every point it has evaluated (the refits of the leave-one-out
start where the fit started and share its first points).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares

from rhodos.experiment.claims import Claim, ExperimentError, Row
from rhodos.experiment.reproduce import Calibration, Experiment, run_claims
from rhodos.kernel import MachineProfile
from rhodos.kernel.profile import FIELD_UNITS

__all__ = [
    "PLAUSIBLE",
    "CachedModel",
    "CalibrationReport",
    "ClaimFit",
    "FieldFit",
    "Plausible",
    "calibrate",
    "fit",
    "implausible",
    "leave_one_out",
]

#: A model: parameter values -> the value of every claim.
Model = Callable[[tuple[float, ...]], npt.NDArray[np.float64]]


# -- plausibility -------------------------------------------------------------------------
@attrs.frozen
class Plausible:
    """The range a profile field may physically take, and why.

    ``bounds(profile, base)`` gives (lower, upper) for the fitted profile (a range may
    depend on another field of it, or on the base's value of a hardware fact).
    """

    bounds: Callable[[MachineProfile, MachineProfile], tuple[float, float]]
    reason: str


MS = 1e-3

_STATE_HANDLING = Plausible(
    lambda p, b: (0.0, 10 * MS),
    "extracting or installing a PCB, registers and kernel stack (a few KiB) is thousands "
    "to tens of thousands of instructions: under 10 ms even on a 1-MIPS machine",
)

#: The fields a calibration may fit, each with its plausible range and the reason for it.
PLAUSIBLE: dict[str, Plausible] = {
    "message_cpu_overhead_s": Plausible(
        lambda p, b: (1e-6, 5 * MS),
        "kernel CPU per network message end: a few us on modern hosts, 0.3-0.6 ms on a "
        "Sun-3 (Peregrine's 1.1-2.6 ms null RPCs are four message ends); no workstation "
        "of the papers' era spent 5 ms",
    ),
    "packet_cpu_overhead_s": Plausible(
        lambda p, b: (0.0, 2 * p.message_cpu_overhead_s),
        "assumed: a packet's share (interrupt, copy, checksum of at most one frame) is "
        "part of what a one-packet message costs; above twice the per-message cost the "
        "fit is absorbing a cost that is not per packet",
    ),
    "state_extract_s": _STATE_HANDLING,
    "state_install_s": _STATE_HANDLING,
    "local_ipc_s": Plausible(
        lambda p, b: (0.0, 5 * MS),
        "a message between two ports of one node: 0.15 ms for a same-machine null RPC "
        "on a Sun-3/60 (Peregrine), about 1 ms on Accent",
    ),
    "page_fault_trap_s": Plausible(
        lambda p, b: (0.0, 2 * MS),
        "trapping a fault and handing it to the memory manager: hundreds of "
        "instructions to a few thousand",
    ),
    "context_switch_s": Plausible(
        lambda p, b: (0.0, 1 * MS),
        "a context switch: tens of us to a few hundred on the papers' machines",
    ),
    "network_latency_s": Plausible(
        lambda p, b: (0.0, 1 * MS),
        "one hop of a LAN: propagation and controller latency, tens of us",
    ),
    "network_bandwidth_bps": Plausible(
        lambda p, b: (0.5 * b.network_bandwidth_bps, b.network_bandwidth_bps),
        "the link's rate is a hardware fact: protocol inefficiency may lower the "
        "effective rate, to half at most; nothing raises it",
    ),
    "file_server_latency_s": Plausible(
        lambda p, b: (1 * MS, 100 * MS),
        "a disk access (seek and rotation): 10-40 ms on the disks of the 1980s-90s",
    ),
    "file_server_bandwidth_bps": Plausible(
        lambda p, b: (b.file_server_bandwidth_bps / 4, 4 * b.file_server_bandwidth_bps),
        "disk rates of one era differ by a few times, not by orders of magnitude",
    ),
    "file_server_cache_bandwidth_bps": Plausible(
        lambda p, b: (b.file_server_cache_bandwidth_bps / 4, 4 * b.file_server_cache_bandwidth_bps),
        "serving a cached block is a memory copy and a lookup: machines of one era "
        "differ by a few times",
    ),
}


def implausible(field: str, profile: MachineProfile, base: MachineProfile) -> str | None:
    """Why ``profile``'s value of ``field`` is implausible (None: it is plausible)."""
    rule = PLAUSIBLE[field]
    lower, upper = rule.bounds(profile, base)
    value = getattr(profile, field)
    if lower <= value <= upper:
        return None
    return f"outside [{lower:.4g}, {upper:.4g}]: {rule.reason}"


# -- the fit, on any model -------------------------------------------------------------------
class CachedModel:
    """A model that evaluates each point once; counts evaluations and cache hits."""

    def __init__(self, model: Model) -> None:
        self._model = model
        self._cache: dict[tuple[float, ...], npt.NDArray[np.float64]] = {}
        self.evaluations = 0
        self.hits = 0

    def __call__(self, values: tuple[float, ...]) -> npt.NDArray[np.float64]:
        key = tuple(float(v) for v in values)
        if key in self._cache:
            self.hits += 1
        else:
            self.evaluations += 1
            self._cache[key] = np.asarray(self._model(key), dtype=float)
        return self._cache[key]


def fit(
    model: Model,
    targets: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    start: Sequence[float],
    use: Sequence[int] | None = None,
) -> tuple[float, ...]:
    """The parameter values, within [lower, upper], that bring the claims ``use`` (all by
    default) nearest their ``targets`` by least squares on relative residuals.

    The parameters are searched on [0, 1] each (scaled to their bounds), so that fields
    of different units (seconds, bits per second) are stepped alike.
    """
    low, high = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    span = high - low
    chosen = list(range(len(targets))) if use is None else list(use)
    goal = np.asarray([targets[i] for i in chosen], dtype=float)
    scale = np.where(goal != 0, np.abs(goal), 1.0)

    def values(u: npt.NDArray[np.float64]) -> tuple[float, ...]:
        return tuple(float(v) for v in low + np.clip(u, 0.0, 1.0) * span)

    def residuals(u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return (model(values(u))[chosen] - goal) / scale

    u0 = np.clip((np.asarray(start, dtype=float) - low) / span, 0.0, 1.0)
    result = least_squares(
        residuals,
        u0,
        bounds=(0.0, 1.0),
        method="dogbox",
        diff_step=1e-6,
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        max_nfev=200,
    )
    return values(result.x)


def leave_one_out(
    model: Model,
    targets: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    start: Sequence[float],
) -> list[float | None]:
    """For each claim, its value predicted by a fit on the others (None where the others
    are fewer than the parameters: nothing determines the fit)."""
    predicted: list[float | None] = []
    for left_out in range(len(targets)):
        others = [i for i in range(len(targets)) if i != left_out]
        if len(others) < len(start):
            predicted.append(None)
            continue
        values = fit(model, targets, lower, upper, start, use=others)
        predicted.append(float(model(values)[left_out]))
    return predicted


# -- the fit of an experiment ---------------------------------------------------------------
@attrs.frozen
class FieldFit:
    """One fitted field: base value, fitted value, what the experiment's profile holds."""

    name: str
    unit: str
    base: float
    fitted: float
    profile: float
    lower: float
    upper: float
    tied: tuple[str, ...]
    implausible: str | None

    @property
    def change_pct(self) -> float | None:
        """The fitted value's change from the base, in percent (None from a base of 0)."""
        return 100.0 * (self.fitted - self.base) / self.base if self.base else None


@attrs.frozen
class ClaimFit:
    """One fitted claim: its paper value, the value at the fit, the residual, and what a
    fit on the other claims predicts for it."""

    claim: Claim
    paper: float
    fitted: float
    left_out: float | None

    @property
    def residual_pct(self) -> float:
        """(value at the fit - paper) / paper, in percent."""
        return 100.0 * (self.fitted - self.paper) / self.paper

    @property
    def left_out_error_pct(self) -> float | None:
        """(predicted without it - paper) / paper, in percent (None: impossible)."""
        if self.left_out is None:
            return None
        return 100.0 * (self.left_out - self.paper) / self.paper


@attrs.frozen
class CalibrationReport:
    """What ``rhodos calibrate`` prints."""

    experiment: str
    base: str
    fields: tuple[FieldFit, ...]
    claims: tuple[ClaimFit, ...]
    #: Why no leave-one-out prediction could be made (None when each claim has one).
    left_out_note: str | None
    #: The experiment's other claims, on the base profile and on the fitted one.
    predictions: tuple[tuple[Row, Row], ...]
    evaluations: int
    cache_hits: int
    fit_s: float
    total_s: float


def fitted_profile(calibration: Calibration, values: Sequence[float]) -> MachineProfile:
    """The base profile with the fitted fields (and the fields tied to them) set."""
    changes: dict[str, Any] = dict(zip(calibration.fields, values, strict=True))
    for tied, leader in calibration.tied.items():
        changes[tied] = changes[leader]
    return attrs.evolve(calibration.base, **changes)


def _left_out_note(fields: int, claims: int) -> str | None:
    if claims - 1 >= fields:
        return None
    return (
        f"impossible: {claims} claim{'s' * (claims != 1)} fit{'s' * (claims == 1)} "
        f"{fields} field{'s' * (fields != 1)}; without one claim fewer claims than fields "
        "remain, so nothing determines the fit. This calibration predicts nothing about "
        "its own figures: what it predicts is the experiment's other claims, below."
    )


def calibrate(experiment: Experiment) -> CalibrationReport:
    """Redo the experiment's calibration: fit, residuals, leave-one-out, predictions."""
    spec = experiment.calibration
    if spec is None:
        raise ExperimentError(
            f"{experiment.name} calibrates nothing: it has no calibrate table "
            "(its profile is used as derived from the paper's hardware)"
        )
    for name in spec.fields:
        if name not in PLAUSIBLE:
            raise ExperimentError(
                f"{experiment.name}: no plausible range is defined for {name!r}; fields "
                f"that can be calibrated: {', '.join(PLAUSIBLE)}"
            )
    started = time.perf_counter()
    claims = [experiment.claim(claim_id) for claim_id in spec.claims]
    targets = [float(c.paper) for c in claims]  # type: ignore[arg-type]

    def simulate(values: tuple[float, ...]) -> npt.NDArray[np.float64]:
        rows = run_claims(experiment, claims, fitted_profile(spec, values))
        return np.array([float(row.simulated) for row in rows])

    model = CachedModel(simulate)
    lower = [spec.bounds[f][0] for f in spec.fields]
    upper = [spec.bounds[f][1] for f in spec.fields]
    start = [getattr(spec.base, f) for f in spec.fields]
    values = fit(model, targets, lower, upper, start)
    at_fit = model(values)
    fit_s = time.perf_counter() - started
    left_out = leave_one_out(model, targets, lower, upper, start)
    profile = fitted_profile(spec, values)
    fields = tuple(
        FieldFit(
            name=name,
            unit=FIELD_UNITS[name],
            base=float(getattr(spec.base, name)),
            fitted=value,
            profile=float(getattr(experiment.profile, name)),
            lower=low,
            upper=high,
            tied=tuple(t for t, leader in spec.tied.items() if leader == name),
            implausible=implausible(name, profile, spec.base),
        )
        for name, value, low, high in zip(spec.fields, values, lower, upper, strict=True)
    )
    others = [c for c in experiment.claims if c.id not in spec.claims]
    predictions: tuple[tuple[Row, Row], ...] = ()
    if others:
        before = run_claims(experiment, others, spec.base)
        after = run_claims(experiment, others, profile)
        predictions = tuple(zip(before, after, strict=True))
    return CalibrationReport(
        experiment=experiment.name,
        base=spec.base.name,
        fields=fields,
        claims=tuple(
            ClaimFit(claim, target, float(value), guess)
            for claim, target, value, guess in zip(claims, targets, at_fit, left_out, strict=True)
        ),
        left_out_note=_left_out_note(len(spec.fields), len(claims)),
        predictions=predictions,
        evaluations=model.evaluations,
        cache_hits=model.hits,
        fit_s=fit_s,
        total_s=time.perf_counter() - started,
    )

"""Reproduce the literature: experiments as folders, claims as rows of paper vs simulation.

An experiment is a folder ``experiments/<name>/`` with a README (the paper, its
hardware, how it is modelled, which profile values are calibrated), an
``experiment.toml`` and the expected output ``expected.txt``. The TOML names a profile
(a built-in name or a file in the folder), the runs, and the claims::

    profile = "profile.toml"

    [runs.ff]                        # one migration, measured
    strategy = "freeze-free"
    scenario = { workload = "pingpong", memory_bytes = "256KiB" }

    [runs.sizes]                     # a series: the same run over several values
    strategy = "copy-on-reference"
    vary = { memory_bytes = ["64KiB", "64MiB"] }

    [runs.share]                     # load-sharing speedup (see loadsharing.py)
    kind = "load-sharing"
    strategy = "eager"
    vary = { memory_bytes = ["64KiB", "4MiB"] }

    [[claims]]
    id = "latency"                   # how [calibrate] and the READMEs name it
    metric = "migration latency"
    unit = "ms"
    value = "ff.latency_s * 1e3"     # an expression over the runs (expression.py)
    paper = 19.9
    tolerance_pct = 10
    role = "calibration"             # or "prediction"
    basis = "paper"                  # or "interpretation", "construction", "none"
    source = "Roush & Campbell 1996, abstract"

    [calibrate]                      # how the profile was fitted (rhodos calibrate)
    base = "sparc-ethernet"          # the profile before the fit
    fields = ["state_extract_s"]     # the fields fitted
    bounds = { state_extract_s = [0.0, 0.02] }
    tied = { state_install_s = "state_extract_s" }   # set equal to a fitted field
    claims = ["latency"]             # the figures they were fitted to

``compare`` is ``"equal"`` (within ``tolerance_pct`` of the paper), ``"at_least"`` or
``"at_most"`` (a bound), or ``"trend"`` (``value`` is a series that must be
``"decreasing"`` or ``"increasing"``, as ``paper`` says). ``role`` and ``basis`` say
what a match means (see :mod:`rhodos.experiment.claims`).

A figure used to calibrate cannot also be predicted. The guard works on the figure, not
on its name: :func:`load_experiment` refuses a prediction whose paper value and unit are
those of a calibration, or whose expression reads the same quantities as one; the
calibrations are exactly the claims the ``[calibrate]`` table fits the profile to.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from rhodos.experiment import expression
from rhodos.experiment.claims import Claim, ExperimentError, Row, check_claim, judge
from rhodos.experiment.loadsharing import LoadSharingResult, load_sharing
from rhodos.experiment.migration import Scenario, baseline_completion, run_migration
from rhodos.kernel import MachineProfile, load_profile
from rhodos.kernel.profile import FIELD_UNITS
from rhodos.migration_manager import MigrationRecord
from rhodos.units import parse_size
from rhodos.validators import did_you_mean

__all__ = [
    "Calibration",
    "Experiment",
    "RunSpec",
    "experiments_root",
    "list_experiments",
    "load_experiment",
    "run_claims",
    "run_experiment",
]
RUN_KINDS = ("migration", "load-sharing")


@attrs.frozen
class RunSpec:
    """One run of an experiment (or a series of runs over ``vary``)."""

    name: str
    kind: str
    strategy: str
    scenario: dict[str, Any]
    params: dict[str, Any]
    vary: dict[str, list[Any]] | None


@attrs.frozen
class Calibration:
    """An experiment's ``[calibrate]`` table: which profile fields were fitted to which
    figures, from which base profile."""

    base: MachineProfile
    fields: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    tied: dict[str, str]
    claims: tuple[str, ...]


@attrs.frozen
class Experiment:
    """A reproduced paper: its folder, profile, runs and claims (and how it was calibrated)."""

    name: str
    folder: Path
    title: str
    profile: MachineProfile
    runs: tuple[RunSpec, ...]
    claims: tuple[Claim, ...]
    calibration: Calibration | None = None

    def claim(self, claim_id: str) -> Claim:
        """The claim called ``claim_id``."""
        for claim in self.claims:
            if claim.id == claim_id:
                return claim
        known = [c.id for c in self.claims]
        raise ExperimentError(
            f"{self.name}: no claim {claim_id!r}{did_you_mean(claim_id, known)}; "
            f"claims: {', '.join(known)}"
        )


# -- loading ----------------------------------------------------------------------------
def experiments_root() -> Path:
    """The ``experiments/`` folder of this checkout (next to the package), else ./experiments."""
    beside = Path(__file__).resolve().parents[2] / "experiments"
    return beside if beside.is_dir() else Path("experiments")


def list_experiments(root: Path | None = None) -> list[str]:
    """Names of the experiment folders (those holding an ``experiment.toml``)."""
    root = root or experiments_root()
    return sorted(p.parent.name for p in root.glob("*/experiment.toml"))


def _check_keys(where: str, table: dict[str, Any], allowed: Sequence[str]) -> None:
    for key in table:
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            raise ExperimentError(
                f"{where}: unknown key {key!r}{hint}; allowed: {', '.join(allowed)}"
            )


def _profile(folder: Path, reference: str) -> MachineProfile:
    """A profile named in an experiment: a file in its folder, else a built-in name."""
    local = folder / reference
    return load_profile(local if local.is_file() else reference)


def _runs(path: Path, table: dict[str, Any]) -> list[RunSpec]:
    runs = []
    scenario_fields = [f.name for f in attrs.fields(Scenario)]
    for run_name, spec in table.items():
        where = f"{path} [runs.{run_name}]"
        _check_keys(where, spec, ("kind", "strategy", "scenario", "params", "vary"))
        kind = spec.get("kind", "migration")
        if kind not in RUN_KINDS:
            raise ExperimentError(f"{where}: kind must be one of {', '.join(RUN_KINDS)}")
        scenario = dict(spec.get("scenario", {}))
        if kind == "migration":
            _check_keys(f"{where} scenario", scenario, scenario_fields)
        vary = spec.get("vary")
        if vary is not None and (len(vary) != 1 or not isinstance(next(iter(vary.values())), list)):
            raise ExperimentError(f"{where}: vary takes one field and a list of values")
        runs.append(
            RunSpec(
                run_name,
                kind,
                str(spec.get("strategy", "eager")),
                scenario,
                dict(spec.get("params", {})),
                vary,
            )
        )
    return runs


def _claims(path: Path, table: list[dict[str, Any]], runs: Iterable[str]) -> list[Claim]:
    claims: list[Claim] = []
    claim_fields = [f.name for f in attrs.fields(Claim)]
    run_names = list(runs)
    for i, raw in enumerate(table):
        where = f"{path} [[claims]] #{i + 1}"
        _check_keys(where, raw, claim_fields)
        try:
            claim = Claim(**raw)
        except TypeError as error:
            raise ExperimentError(f"{where}: {error}") from None
        check_claim(claim, where)
        if any(c.id == claim.id for c in claims):
            raise ExperimentError(f"{where}: a second claim called {claim.id!r}")
        expression.check(claim.value, run_names)
        claims.append(claim)
    return claims


def _quantity(claim: Claim) -> frozenset[str]:
    """What a claim's expression reads (runs and attributes), whatever its arithmetic."""
    return frozenset(expression.names_in(claim.value) | expression.attributes_in(claim.value))


def _check_figures(path: Path, claims: Sequence[Claim]) -> None:
    """A figure the profile was fitted to is not predicted too, under any name."""
    calibrations = [c for c in claims if c.role == "calibration"]
    for claim in claims:
        if claim.role != "prediction":
            continue
        for fitted in calibrations:
            same_figure = (
                isinstance(claim.paper, int | float)
                and claim.paper == fitted.paper
                and claim.unit == fitted.unit
            )
            if same_figure or _quantity(claim) == _quantity(fitted):
                what = (
                    f"the figure {fitted.paper} {fitted.unit}"
                    if same_figure
                    else f"the quantity {fitted.value!r}"
                )
                raise ExperimentError(
                    f"{path}: claim {claim.id!r} predicts {what}, which claim {fitted.id!r} "
                    "calibrates; a calibrated figure cannot be predicted"
                )


def _bounds(where: str, fields: Sequence[str], table: Any) -> dict[str, tuple[float, float]]:
    if not isinstance(table, dict):
        raise ExperimentError(f"{where}: bounds is a table of field = [lower, upper]")
    _check_keys(f"{where} bounds", table, fields)
    bounds = {}
    for name in fields:
        pair: Any = table.get(name)
        numbers = isinstance(pair, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in pair
        )
        if not (numbers and len(pair) == 2 and float("-inf") < pair[0] < pair[1] < float("inf")):
            raise ExperimentError(
                f"{where}: bounds.{name} must be [lower, upper] with finite lower < upper, "
                f"got {pair!r}"
            )
        bounds[name] = (float(pair[0]), float(pair[1]))
    return bounds


def _calibration(
    path: Path, folder: Path, table: dict[str, Any], claims: Sequence[Claim]
) -> Calibration:
    where = f"{path} [calibrate]"
    _check_keys(where, table, ("base", "fields", "bounds", "tied", "claims"))
    if "base" not in table:
        raise ExperimentError(f"{where}: base names the profile before the fit")
    base = _profile(folder, str(table["base"]))
    numeric = [name for name in FIELD_UNITS if isinstance(getattr(base, name), float)]
    fields = table.get("fields")
    if not isinstance(fields, list) or not fields:
        raise ExperimentError(f"{where}: fields is a non-empty list of profile fields")
    tied = table.get("tied", {})
    if not isinstance(tied, dict):
        raise ExperimentError(f'{where}: tied is a table of field = "fitted field"')
    for name in [*fields, *tied]:
        if name not in numeric:
            raise ExperimentError(
                f"{where}: {name!r} is not a profile field that can be fitted"
                f"{did_you_mean(str(name), numeric)}; fields: {', '.join(numeric)}"
            )
    for name, leader in tied.items():
        if leader not in fields or name in fields:
            raise ExperimentError(
                f"{where}: tied.{name} must name a fitted field ({', '.join(fields)}) "
                "and not be fitted itself"
            )
    fitted_ids = table.get("claims")
    if not isinstance(fitted_ids, list) or not fitted_ids:
        raise ExperimentError(f"{where}: claims is a non-empty list of claim ids")
    by_id = {c.id: c for c in claims}
    for claim_id in fitted_ids:
        if claim_id not in by_id:
            raise ExperimentError(
                f"{where}: no claim {claim_id!r}{did_you_mean(str(claim_id), by_id)}"
            )
    listed = set(fitted_ids)
    for claim in claims:
        if (claim.id in listed) != (claim.role == "calibration"):
            raise ExperimentError(
                f"{where}: claim {claim.id!r} is "
                + (
                    "fitted here but its role is not 'calibration'"
                    if claim.id in listed
                    else "a calibration but is not among the claims fitted here"
                )
            )
    if len(fitted_ids) < len(fields):
        raise ExperimentError(
            f"{where}: {len(fields)} fields cannot be fitted to {len(fitted_ids)} claims "
            "(at least one claim per field)"
        )
    return Calibration(
        base,
        tuple(fields),
        _bounds(where, fields, table.get("bounds")),
        {str(k): str(v) for k, v in tied.items()},
        tuple(fitted_ids),
    )


def load_experiment(name: str, root: Path | None = None) -> Experiment:
    """Read and validate ``root/name/experiment.toml``."""
    root = root or experiments_root()
    folder = root / name
    path = folder / "experiment.toml"
    if not path.is_file():
        known = list_experiments(root)
        hint = did_you_mean(name, known)
        raise ExperimentError(
            f"unknown experiment {name!r}{hint}; experiments: {', '.join(known) or 'none'}"
        )
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    _check_keys(str(path), data, ("title", "profile", "runs", "claims", "calibrate"))
    profile = _profile(folder, str(data.get("profile", "sun3-ethernet")))
    runs = _runs(path, data.get("runs", {}))
    claims = _claims(path, data.get("claims", []), [r.name for r in runs])
    _check_figures(path, claims)
    calibration = None
    if "calibrate" in data:
        calibration = _calibration(path, folder, data["calibrate"], claims)
    elif any(c.role == "calibration" for c in claims):
        raise ExperimentError(
            f"{path}: calibrations need a [calibrate] table saying which fields were fitted to them"
        )
    return Experiment(
        name,
        folder,
        str(data.get("title", name)),
        profile,
        tuple(runs),
        tuple(claims),
        calibration,
    )


# -- running ----------------------------------------------------------------------------
def execute(spec: RunSpec, profile: MachineProfile, *, slowdown: bool = True) -> Any:
    """Run one run of an experiment on ``profile``: a result, or a list for a series.

    ``slowdown=False`` skips the run without migration that only the slowdown needs
    (the record's slowdown is then NaN).
    """
    points = [spec.scenario]
    if spec.vary is not None:
        ((field, values),) = spec.vary.items()
        points = [{**spec.scenario, field: value} for value in values]
    results: list[MigrationRecord | LoadSharingResult] = []
    for fields in points:
        if spec.kind == "migration":
            scenario = Scenario(**{"profile": profile, **fields})
            baseline = baseline_completion(scenario) if slowdown else float("nan")
            results.append(run_migration(scenario, spec.strategy, spec.params, baseline=baseline))
        else:
            options = dict(fields)
            if "memory_bytes" in options:
                options["memory_bytes"] = parse_size(options["memory_bytes"])
            results.append(load_sharing(profile, strategy=spec.strategy, **options))
    return results if spec.vary is not None else results[0]


def run_claims(
    experiment: Experiment, claims: Sequence[Claim], profile: MachineProfile | None = None
) -> list[Row]:
    """Run the runs ``claims`` read (on ``profile``, by default the experiment's) and judge them."""
    profile = profile or experiment.profile
    needed: set[str] = set()
    for claim in claims:
        needed |= expression.names_in(claim.value)
    slowdown = any("slowdown" in expression.attributes_in(c.value) for c in claims)
    results = {
        spec.name: execute(spec, profile, slowdown=slowdown)
        for spec in experiment.runs
        if spec.name in needed
    }
    rows = []
    for claim in claims:
        simulated, deviation, within = judge(claim, expression.evaluate(claim.value, results))
        rows.append(
            Row(
                experiment=experiment.name,
                id=claim.id,
                metric=claim.metric,
                unit=claim.unit,
                paper=claim.paper,
                simulated=simulated,
                deviation_pct=deviation,
                tolerance_pct=claim.tolerance_pct,
                role=claim.role,
                basis=claim.basis,
                within=within,
                compare=claim.compare,
                note=claim.note,
            )
        )
    return rows


def run_experiment(experiment: Experiment) -> list[Row]:
    """Run every run of the experiment once and judge every claim."""
    return run_claims(experiment, experiment.claims)

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
    metric = "migration latency"
    unit = "ms"
    value = "ff.latency_s * 1e3"     # an expression over the runs
    paper = 19.9
    tolerance_pct = 10
    role = "calibration"             # or "prediction"
    source = "Roush & Campbell 1996, abstract"

``compare`` is ``"equal"`` (within ``tolerance_pct`` of the paper), ``"at_least"`` or
``"at_most"`` (a bound the paper states), or ``"trend"`` (``value`` is a series that
must be ``"decreasing"`` or ``"increasing"``, as ``paper`` says). A claim with no
``paper`` value is a prediction the paper does not let us check; it is shown, never
counted as within.

A figure used to calibrate the profile is a ``calibration`` and cannot also be a
``prediction``: :func:`load_experiment` refuses an experiment that claims the same
figure both ways.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from rhodos.experiment.claims import Claim, ExperimentError, Row, evaluate, judge
from rhodos.experiment.loadsharing import LoadSharingResult, load_sharing
from rhodos.experiment.migration import Scenario, baseline_completion, run_migration
from rhodos.kernel import MachineProfile, load_profile
from rhodos.migration_manager import MigrationRecord
from rhodos.units import parse_size
from rhodos.validators import did_you_mean

__all__ = [
    "Experiment",
    "RunSpec",
    "experiments_root",
    "list_experiments",
    "load_experiment",
    "run_experiment",
]
ROLES = ("calibration", "prediction")
COMPARES = ("equal", "at_least", "at_most", "trend")
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
class Experiment:
    """A reproduced paper: its folder, profile, runs and claims."""

    name: str
    folder: Path
    title: str
    profile: MachineProfile
    runs: tuple[RunSpec, ...]
    claims: tuple[Claim, ...]


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
    _check_keys(str(path), data, ("title", "profile", "runs", "claims"))
    profile_ref = str(data.get("profile", "sun3-ethernet"))
    local = folder / profile_ref
    profile = load_profile(local if local.is_file() else profile_ref)
    runs = []
    scenario_fields = [f.name for f in attrs.fields(Scenario)]
    for run_name, spec in data.get("runs", {}).items():
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
    claims = []
    claim_fields = [f.name for f in attrs.fields(Claim)]
    for i, raw in enumerate(data.get("claims", [])):
        where = f"{path} [[claims]] #{i + 1}"
        _check_keys(where, raw, claim_fields)
        try:
            claim = Claim(**raw)
        except TypeError as error:
            raise ExperimentError(f"{where}: {error}") from None
        if claim.role not in ROLES:
            raise ExperimentError(f"{where}: role must be one of {', '.join(ROLES)}")
        if claim.compare not in COMPARES:
            raise ExperimentError(f"{where}: compare must be one of {', '.join(COMPARES)}")
        claims.append(claim)
    figures: dict[tuple[str, float | str], str] = {}
    for claim in claims:
        if claim.paper is None:
            continue
        key = (claim.metric, claim.paper)
        if key in figures and figures[key] != claim.role:
            raise ExperimentError(
                f"{path}: the figure {claim.metric} = {claim.paper} is claimed both as a "
                "calibration and as a prediction; a calibrated figure cannot be predicted"
            )
        figures[key] = claim.role
    return Experiment(
        name, folder, str(data.get("title", name)), profile, tuple(runs), tuple(claims)
    )


# -- running ----------------------------------------------------------------------------
def _scenario(experiment: Experiment, fields: dict[str, Any]) -> Scenario:
    return Scenario(**{"profile": experiment.profile, **fields})


def _execute(experiment: Experiment, spec: RunSpec) -> Any:
    points = [spec.scenario]
    if spec.vary is not None:
        ((field, values),) = spec.vary.items()
        points = [{**spec.scenario, field: value} for value in values]
    results: list[MigrationRecord | LoadSharingResult] = []
    for fields in points:
        if spec.kind == "migration":
            scenario = _scenario(experiment, fields)
            baseline = baseline_completion(scenario)
            results.append(run_migration(scenario, spec.strategy, spec.params, baseline=baseline))
        else:
            options = dict(fields)
            if "memory_bytes" in options:
                options["memory_bytes"] = parse_size(options["memory_bytes"])
            results.append(load_sharing(experiment.profile, strategy=spec.strategy, **options))
    return results if spec.vary is not None else results[0]


def run_experiment(experiment: Experiment) -> list[Row]:
    """Run every run of the experiment once and judge every claim."""
    results = {spec.name: _execute(experiment, spec) for spec in experiment.runs}
    rows = []
    for claim in experiment.claims:
        simulated, deviation, within = judge(claim, evaluate(claim.value, results))
        rows.append(
            Row(
                experiment=experiment.name,
                metric=claim.metric,
                unit=claim.unit,
                paper=claim.paper,
                simulated=simulated,
                deviation_pct=deviation,
                tolerance_pct=claim.tolerance_pct,
                role=claim.role,
                within=within,
                compare=claim.compare,
                note=claim.note,
            )
        )
    return rows

"""Sweeps: the Cartesian product of a config's axes, replicated with paired seeds.

A sweep config is a TOML file with a ``[sweep]`` table and, optionally, one
``[params.<strategy>]`` table per strategy::

    [sweep]
    seed = 0                            # root SeedSequence of every replication's seed
    replications = 3                    # runs per point
    strategy = ["eager", "precopy"]     # a list is an axis of the product ...
    memory_bytes = ["64KiB", "256KiB"]
    cpu_seconds = 0.5                   # ... a single value is fixed for every run

    [params.precopy]
    max_rounds = 3                      # a list here is an axis of precopy's points only

The keys of ``[sweep]`` are the fields of :class:`~rhodos.experiment.Scenario`
(``profile``, ``workload``, ``memory_bytes``, ``dirty_rate``, ``touch_fraction``,
``cpu_seconds``, ``migrate_at``, ``nodes``, ``topology``, ``home_calls_per_s``), plus
``strategy`` (default: every registered strategy), ``replications``, ``seed`` and
``name``. Everything is checked before anything runs: an unknown key is named with the
nearest valid one, a wrong type with the key, the value and the type expected, and
every value is built once (sizes parsed, profiles loaded, strategies made).

Replication ``r`` of every point runs with the seed ``SeedSequence(seed).spawn(R)[r]``,
so all strategies of a replication see the same workload: comparisons are paired.
Runs are numbered replication-major (every point of replication 0, then of 1, ...), and
within a replication by the scenario axes in config order, then strategy, then the
strategy's own axes; :attr:`Run.run` is that number and identifies the row everywhere.
"""

from __future__ import annotations

import copy
import itertools
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from rhodos.experiment.executor import (
    Executor,
    RunFailed,
    make_executor,
    run_group,
    run_groups,
    scenario_value,
)
from rhodos.experiment.migration import Observer, Scenario
from rhodos.experiment.results import (
    ResultsFile,
    SweepManifest,
    folder_lock,
    summarize,
    write_parquet,
    write_summary,
)
from rhodos.kernel import MachineProfile, load_profile
from rhodos.migration_manager import make_strategy, registered
from rhodos.validators import did_you_mean

__all__ = [
    "Group",
    "Run",
    "RunFailed",
    "SweepConfig",
    "SweepConfigError",
    "SweepPlan",
    "SweepResult",
    "run_groups",
    "run_sweep",
]


class SweepConfigError(ValueError):
    """A sweep config that cannot run: the message names the key and what is allowed."""


# -- the schema ----------------------------------------------------------------------
_SIZE = "a size (bytes as an integer, or a string such as '256KiB' or '4MiB')"
_NUMBER = "a number"
_INTEGER = "an integer"
_STRING = "a string"

#: The keys of [sweep] that are Scenario fields (or the strategy), with the type expected.
SCENARIO_KEYS: dict[str, str] = {
    "strategy": _STRING,
    "profile": _STRING,
    "workload": _STRING,
    "memory_bytes": _SIZE,
    "dirty_rate": _NUMBER,
    "touch_fraction": _NUMBER,
    "cpu_seconds": _NUMBER,
    "migrate_at": _NUMBER,
    "nodes": _INTEGER,
    "topology": _STRING,
    "home_calls_per_s": _NUMBER,
}
#: The keys of [sweep] that set up the sweep itself (never axes).
SETTING_KEYS: dict[str, str] = {"name": _STRING, "seed": _INTEGER, "replications": _INTEGER}
_TABLES = ("sweep", "params")


def _typed(where: str, value: Any, expected: str) -> Any:
    """``value`` when it has the type ``expected`` (ints widened to float for numbers)."""
    ok = {
        _STRING: isinstance(value, str),
        _INTEGER: isinstance(value, int) and not isinstance(value, bool),
        _NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
        _SIZE: isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)),
    }[expected]
    if not ok:
        raise SweepConfigError(
            f"{where} = {value!r}: expected {expected}, got {type(value).__name__}"
        )
    if expected == _NUMBER:
        return float(value)
    return value


def _as_values(where: str, value: Any, expected: str) -> list[Any]:
    """The values of a key: a list is an axis, anything else one fixed value."""
    if isinstance(value, list):
        if not value:
            raise SweepConfigError(f"{where} is an empty list: an axis needs at least one value")
        return [_typed(f"{where}[{i}]", v, expected) for i, v in enumerate(value)]
    return [_typed(where, value, expected)]


# -- the parsed config ---------------------------------------------------------------
@attrs.frozen
class Axis:
    """One axis of the product: its name (``memory_bytes``, ``precopy.max_rounds``) and values."""

    name: str
    values: tuple[Any, ...]


def _check_value(where: str, key: str, value: Any) -> None:
    """Build a scenario with ``key = value`` so a bad value fails now, naming the key."""
    try:
        if key == "strategy":
            make_strategy(value)
        else:
            Scenario(**{key: value}).cluster_config()
    except ValueError as error:
        raise SweepConfigError(f"{where} = {value!r}: {error}") from None


@attrs.frozen
class SweepConfig:
    """A validated sweep: fixed values, axes, strategies and their parameters.

    Build it with :meth:`from_toml` or :meth:`from_dict`; :attr:`data` is the config as
    read (after ``--set`` overrides), which the manifest records.
    """

    data: dict[str, Any]
    origin: str = "<config>"
    name: str = "sweep"
    seed: int = 0
    replications: int = 1
    #: Scenario keys with one value, as written.
    fixed: dict[str, Any] = attrs.field(factory=dict)
    #: Axes in config order (the scenario's and the strategy's).
    axes: tuple[Axis, ...] = ()
    strategies: tuple[str, ...] = ()
    #: Per strategy: its fixed parameters, and its own axes.
    params: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    param_axes: dict[str, tuple[Axis, ...]] = attrs.field(factory=dict)

    @classmethod
    def from_toml(cls, path: str | Path, overrides: Sequence[str] = ()) -> SweepConfig:
        """Read ``path``; apply ``overrides`` (``key=value``, the value a TOML value)."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise SweepConfigError(f"{path}: not valid TOML: {error}") from None
        for item in overrides:
            apply_override(data, item)
        return cls.from_dict(data, origin=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "<config>") -> SweepConfig:
        """Validate the config ``data`` (as TOML would give it) and build the sweep."""
        plain: dict[str, Any] = copy.deepcopy(dict(data))
        for table in plain:
            if table not in _TABLES:
                hint = did_you_mean(table, _TABLES, show=lambda near: f"[{near}]")
                raise SweepConfigError(
                    f"{origin}: unknown table [{table}]{hint}; "
                    "a sweep config has [sweep] and [params.<strategy>]"
                )
        sweep = plain.get("sweep")
        if not isinstance(sweep, dict):
            raise SweepConfigError(f"{origin}: no [sweep] table")
        valid = {**SCENARIO_KEYS, **SETTING_KEYS}
        for key in sweep:
            if key not in valid:
                raise SweepConfigError(
                    f"{origin}: unknown key [sweep] {key}{did_you_mean(key, valid)}; "
                    f"keys are: {', '.join(valid)}"
                )
        settings: dict[str, Any] = {}
        for key, expected in SETTING_KEYS.items():
            if key in sweep:
                if isinstance(sweep[key], list):
                    raise SweepConfigError(
                        f"{origin}: [sweep] {key} takes one value, not a list "
                        "(replications vary the seed; `seed` is their common root)"
                    )
                settings[key] = _typed(f"[sweep] {key}", sweep[key], expected)
        seed = settings.get("seed", 0)
        replications = settings.get("replications", 1)
        if seed < 0:
            raise SweepConfigError(f"{origin}: [sweep] seed = {seed}: must be >= 0")
        if replications < 1:
            raise SweepConfigError(f"{origin}: [sweep] replications = {replications}: must be >= 1")
        base = Path(origin).parent if origin != "<config>" else Path()
        fixed: dict[str, Any] = {}
        axes: list[Axis] = []
        if "strategy" not in sweep:
            axes.append(Axis("strategy", tuple(registered())))
        for key, raw in sweep.items():
            if key not in SCENARIO_KEYS:
                continue
            values = _as_values(f"[sweep] {key}", raw, SCENARIO_KEYS[key])
            if key == "profile":
                values = [_profile_path(v, base) for v in values]
            for i, value in enumerate(values):
                where = f"[sweep] {key}" + (f"[{i}]" if isinstance(raw, list) else "")
                _check_value(f"{origin}: {where}", key, value)
            if isinstance(raw, list):
                axes.append(Axis(key, tuple(values)))
            else:
                fixed[key] = values[0]
        if "strategy" in fixed:
            strategies: tuple[str, ...] = (fixed["strategy"],)
        else:
            strategies = next(a.values for a in axes if a.name == "strategy")
        if len(set(strategies)) != len(strategies):
            raise SweepConfigError(f"{origin}: [sweep] strategy lists a strategy twice")
        params, param_axes = _parse_params(plain.get("params", {}), strategies, origin)
        return cls(
            data=plain,
            origin=origin,
            name=settings.get("name", Path(origin).stem if origin != "<config>" else "sweep"),
            seed=seed,
            replications=replications,
            fixed=fixed,
            axes=tuple(axes),
            strategies=tuple(strategies),
            params=params,
            param_axes=param_axes,
        )

    @property
    def all_axes(self) -> tuple[Axis, ...]:
        """The scenario axes, then every strategy's own axes (the columns that vary)."""
        return self.axes + tuple(a for s in self.strategies for a in self.param_axes[s])

    def seeds(self) -> tuple[int, ...]:
        """Replication ``r``'s seed: ``SeedSequence(seed).spawn(R)[r]``, as one integer."""
        children = np.random.SeedSequence(self.seed).spawn(self.replications)
        return tuple(int(child.generate_state(1)[0]) for child in children)

    def plan(self) -> SweepPlan:
        """Every run of the sweep, grouped by scenario (each group shares its baseline)."""
        profiles: dict[str, MachineProfile] = {}

        def knob(key: str, value: Any) -> Any:
            if key != "profile":
                return value
            if value not in profiles:
                profiles[value] = load_profile(value)
            return profiles[value]

        scenario_axes = [a for a in self.axes if a.name != "strategy"]
        fixed = {k: knob(k, v) for k, v in self.fixed.items() if k != "strategy"}
        scenarios = [
            _scenario(
                self.origin,
                {
                    **fixed,
                    **{a.name: knob(a.name, v) for a, v in zip(scenario_axes, c, strict=True)},
                },
            )
            for c in itertools.product(*(a.values for a in scenario_axes))
        ]
        # The points of one replication: each scenario, each strategy, each of its params.
        points: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        point_ranges: list[range] = []
        for scenario in scenarios:
            first = len(points)
            for strategy in self.strategies:
                own = self.param_axes[strategy]
                for values in itertools.product(*(a.values for a in own)):
                    chosen = {a.name: v for a, v in zip(own, values, strict=True)}
                    params = {**self.params[strategy]}
                    params.update((name.partition(".")[2], v) for name, v in chosen.items())
                    axes = {
                        a.name: _axis_value(a.name, scenario, strategy, chosen)
                        for a in self.all_axes
                    }
                    points.append((strategy, params, axes))
            point_ranges.append(range(first, len(points)))
        seeds = self.seeds()
        groups = []
        for r, seed in enumerate(seeds):
            for scenario, indices in zip(scenarios, point_ranges, strict=True):
                runs = tuple(Run(r * len(points) + p, p, r, seed, *points[p]) for p in indices)
                groups.append(Group(attrs.evolve(scenario, seed=seed), runs))
        return SweepPlan(self, seeds, len(points), tuple(groups))


def _axis_value(name: str, scenario: Scenario, strategy: str, chosen: dict[str, Any]) -> Any:
    """The value of axis ``name`` at a point (``None``: another strategy's parameter)."""
    if name == "strategy":
        return strategy
    if "." in name:
        return chosen.get(name)
    return scenario_value(scenario, name)


def _profile_path(value: str, base: Path) -> str:
    """A profile given as a path relative to the config file, resolved; names unchanged."""
    candidate = base / value
    if value.endswith(".toml") and not Path(value).is_file() and candidate.is_file():
        return str(candidate)
    return value


def _scenario(origin: str, knobs: dict[str, Any]) -> Scenario:
    try:
        scenario = Scenario(**knobs)
    except ValueError as error:
        raise SweepConfigError(f"{origin}: the point {knobs} cannot run: {error}") from None
    if scenario.workload in ("memory-writer", "cpu-bound") and (
        scenario.migrate_at >= scenario.cpu_seconds
    ):
        raise SweepConfigError(
            f"{origin}: migrate_at = {scenario.migrate_at:g} s is not before the process ends "
            f"(cpu_seconds = {scenario.cpu_seconds:g} s): the migration would never happen"
        )
    return scenario


def _parse_params(
    tables: Any, strategies: Sequence[str], origin: str
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[Axis, ...]]]:
    """The fixed parameters and the parameter axes of each strategy, checked."""
    if not isinstance(tables, dict):
        raise SweepConfigError(f"{origin}: [params] must be a table of [params.<strategy>] tables")
    known = registered()
    fixed: dict[str, dict[str, Any]] = {s: {} for s in strategies}
    axes: dict[str, tuple[Axis, ...]] = {s: () for s in strategies}
    for strategy, table in tables.items():
        if strategy not in known:
            raise SweepConfigError(
                f"{origin}: [params.{strategy}]: unknown strategy{did_you_mean(strategy, known)}; "
                f"registered strategies: {', '.join(known)}"
            )
        if strategy not in strategies:
            raise SweepConfigError(
                f"{origin}: [params.{strategy}]: {strategy!r} is not among the swept "
                f"strategies ({', '.join(strategies)})"
            )
        if not isinstance(table, dict):
            raise SweepConfigError(f"{origin}: [params.{strategy}] must be a table")
        cls = known[strategy]
        attrs.resolve_types(cls)
        fields = {f.name: f for f in attrs.fields(cls)}
        own: list[Axis] = []
        for key, raw in table.items():
            where = f"{origin}: [params.{strategy}] {key}"
            if key not in fields:
                listed = ", ".join(fields) or "none"
                raise SweepConfigError(
                    f"{where}: {strategy!r} has no such parameter{did_you_mean(key, fields)}; "
                    f"its parameters: {listed}"
                )
            expected = {int: _INTEGER, float: _NUMBER, str: _STRING}.get(fields[key].type)
            values = (
                _as_values(where, raw, expected)
                if expected
                else list(raw if isinstance(raw, list) else [raw])
            )
            for value in values:
                try:
                    make_strategy(strategy, **{key: value})
                except (ValueError, TypeError) as error:
                    raise SweepConfigError(f"{where} = {value!r}: {error}") from None
            if isinstance(raw, list):
                own.append(Axis(f"{strategy}.{key}", tuple(values)))
            else:
                fixed[strategy][key] = values[0]
        axes[strategy] = tuple(own)
    return fixed, axes


def apply_override(data: dict[str, Any], item: str) -> None:
    """Apply one ``--set key=value`` to the config ``data``.

    ``key`` is dotted (``params.precopy.max_rounds``); a key that does not start with a
    table name is a key of ``[sweep]`` (``replications=5``). ``value`` is read as a TOML
    value (``[1, 2]``, ``"4MiB"``, ``0.5``); a bare word is taken as a string.
    """
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepConfigError(f"--set takes key=value (e.g. replications=5), got {item!r}")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    path = key.split(".")
    if path[0] not in _TABLES:
        path = ["sweep", *path]
    table = data
    for part in path[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise SweepConfigError(f"--set {key}: {part!r} is not a table")
    table[path[-1]] = value


# -- the plan ------------------------------------------------------------
@attrs.frozen
class Run:
    """One run: a point of the product in one replication."""

    #: The run's number in the sweep (replication-major); the row's identity.
    run: int
    #: The point's number within a replication (the runs of a point differ by seed only).
    point: int
    replication: int
    seed: int
    strategy: str
    params: dict[str, Any]
    #: The value of every axis at this point (``None``: another strategy's parameter).
    axes: dict[str, Any]

    def describe(self) -> str:
        """``run 7 (replication 1, seed 123, strategy=precopy, memory_bytes=65536)``."""
        knobs = ", ".join(f"{k}={v}" for k, v in self.axes.items() if v is not None)
        return f"run {self.run} (replication {self.replication}, seed {self.seed}, {knobs})"


@attrs.frozen
class Group:
    """Runs that share one scenario and seed, hence one no-migration baseline."""

    scenario: Scenario
    runs: tuple[Run, ...]


@attrs.frozen
class SweepPlan:
    """Every run of a sweep, in groups."""

    config: SweepConfig
    seeds: tuple[int, ...]
    #: Points per replication.
    points: int
    groups: tuple[Group, ...]

    @property
    def runs(self) -> tuple[Run, ...]:
        """Every run, in run order."""
        return tuple(sorted((r for g in self.groups for r in g.runs), key=lambda r: r.run))

    def __len__(self) -> int:
        return self.points * len(self.seeds)


def _chunks(groups: Sequence[Group], workers: int) -> list[tuple[Group, ...]]:
    """Groups in chunks: about 16 per worker (so the last ones balance the load), at most
    8 groups each (so results stream and a kill loses little)."""
    size = max(1, min(8, len(groups) // (16 * max(1, workers))))
    return [tuple(groups[i : i + size]) for i in range(0, len(groups), size)]


# -- running a sweep ---------------------------------------------------------------------
@attrs.frozen
class SweepResult:
    """What a call of :func:`run_sweep` did."""

    out: Path
    total: int
    #: Runs already in the results file when this call started (``--resume``).
    skipped: int
    #: Runs this call ran and wrote.
    ran: int
    wall_s: float
    executor: str
    files: tuple[Path, ...]

    @property
    def complete(self) -> bool:
        """Every run of the sweep is in the results file."""
        return self.skipped + self.ran == self.total


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    executor: Executor | None = None,
    resume: bool = False,
    trace_run: int | None = None,
    observe: Observer | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run every run of ``config`` not yet in ``out/results.csv``; append each as it ends.

    Args:
        config: the validated sweep.
        out: the results folder (``results.csv``, ``manifest.json``, ``summary.csv``).
        executor: where the runs execute (default: a local process pool, one worker
            per core); it is closed at the end only when created here.
        resume: continue the sweep already in ``out`` (refused when its config differs,
            but for more replications, which extend it); without it, a folder that
            holds results is refused.
        trace_run: the run to observe: it runs in this process with ``observe``
            (its baseline too), so ``observe`` may be any callable; its row is written
            unless it is already there.
        observe: the :data:`Observer` of ``trace_run``.
        progress: called with (runs done, runs in the sweep) as rows are written.

    Raises:
        SweepConfigError: the config cannot run (before anything runs).
        RunFailed: a run raised; the rows written so far stay, ``resume`` goes on.

    A script that runs a sweep on a process pool needs the usual multiprocessing guard,
    ``if __name__ == "__main__":``, since the workers import the main module.
    """
    plan = config.plan()
    if (trace_run is None) != (observe is None):
        raise ValueError("trace_run and observe go together: the run to trace and its observer")
    if trace_run is not None and not 0 <= trace_run < len(plan):
        raise ValueError(f"trace_run {trace_run} is not a run of this sweep (0..{len(plan) - 1})")
    folder = Path(out)
    results = ResultsFile(folder / "results.csv")
    manifest = SweepManifest(folder / "manifest.json")
    owned = executor is None
    executor = executor or make_executor()
    try:
        _refuse_to_overwrite(results, resume)
        workers = executor.workers  # connects to a cluster: fails before anything is written
        with folder_lock(folder):
            _refuse_to_overwrite(results, resume)
            if resume:
                manifest.check_same(config.data)
            done = results.finished() if resume else set()
            manifest.begin(plan, executor.describe(), done=len(done), fresh=not resume)
            ran, wall = _execute(
                plan, results, manifest, executor, workers, done, trace_run, observe, progress
            )
            files = [results.path, manifest.path]
            summary = summarize(results.rows(), [a.name for a in config.all_axes])
            files.append(write_summary(folder / "summary.csv", summary))
            parquet = write_parquet(results.path)
            if parquet is not None:
                files.append(parquet)
    finally:
        if owned:
            executor.close()
    return SweepResult(
        out=folder,
        total=len(plan),
        skipped=len(done),
        ran=ran,
        wall_s=wall,
        executor=executor.describe(),
        files=tuple(files),
    )


def _refuse_to_overwrite(results: ResultsFile, resume: bool) -> None:
    if results.exists() and not resume:
        raise ValueError(
            f"{results.path.parent} already holds results: pass --resume to finish that "
            "sweep, or choose another --out"
        )


def _execute(
    plan: SweepPlan,
    results: ResultsFile,
    manifest: SweepManifest,
    executor: Executor,
    workers: int,
    done: set[int],
    trace_run: int | None,
    observe: Observer | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, float]:
    """Run what is not ``done``, appending rows as they come; (runs written, wall s)."""
    pending = [
        Group(g.scenario, runs)
        for g in plan.groups
        if (runs := tuple(r for r in g.runs if r.run not in done and r.run != trace_run))
    ]
    started = time.perf_counter()
    count = len(done)
    status = "failed"

    def write(rows: list[dict[str, Any]]) -> None:
        nonlocal count
        results.append(rows)
        count += len(rows)
        if progress:
            progress(count, len(plan))

    if progress:
        progress(count, len(plan))
    try:
        stream = executor.map_unordered(run_groups, _chunks(pending, workers))
        if trace_run is not None:  # here, while the workers run the rest
            traced = next(g for g in plan.groups if any(r.run == trace_run for r in g.runs))
            solo = Group(traced.scenario, tuple(r for r in traced.runs if r.run == trace_run))
            rows = run_group(solo, observe)
            if trace_run not in done:
                write(rows)
        for rows in stream:
            write(rows)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        wall = time.perf_counter() - started
        manifest.end(status, ran=count - len(done), wall_s=wall)
    return count - len(done), wall

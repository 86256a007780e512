"""Sweep configs: the Cartesian product of a config's axes, replicated with paired seeds.

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

A list of plugin files at the top of the file (``plugins = ["mine.py"]``, relative to
the config file) adds their strategies and workloads (see :mod:`rhodos.plugins`).
The keys of ``[sweep]`` are the fields of :class:`~rhodos.experiment.Scenario`
(``profile``, ``workload``, ``memory_bytes``, ``dirty_rate``, ``touch_fraction``,
``cpu_seconds``, ``migrate_at``, ``nodes``, ``topology``, ``home_calls_per_s``, ``loops``), plus
``strategy`` (default: every registered strategy), ``replications``, ``seed`` and
``name`` (see :mod:`rhodos.experiment.schema`). Everything is checked before anything
runs: an unknown key is named with the nearest valid one, a wrong type with the key, the
value and the type expected, and every value is built once (sizes parsed, profiles
loaded, strategies made); the number of runs is counted from the axes, and a sweep of
more than :data:`MAX_RUNS` is refused before its plan is built. The file is data, read
with :func:`rhodos.paths.read_toml`, never evaluated.

Replication ``r`` of every point runs with the seed ``SeedSequence(seed).spawn(R)[r]``,
so all strategies of a replication see the same workload: comparisons are paired.
:meth:`SweepConfig.plan` lists the runs (see :mod:`rhodos.experiment.plan`).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from rhodos.experiment.migration import Scenario, scenario_value
from rhodos.experiment.plan import Axis, Group, Run, SweepPlan
from rhodos.experiment.schema import (
    PLUGINS,
    SCENARIO_KEYS,
    SETTING_KEYS,
    TABLES,
    SweepConfigError,
    apply_override,
    as_values,
    check_value,
    load_config_plugins,
    parse_params,
    typed,
)
from rhodos.kernel import MachineProfile, load_profile
from rhodos.migration_manager import registered
from rhodos.paths import read_toml
from rhodos.validators import did_you_mean

__all__ = ["MAX_RUNS", "SweepConfig"]

#: The most runs a sweep may make. Its plan is built whole before anything runs (a
#: million runs take ~20 s and ~300 MB to plan), and at ~0.1 s a run a million runs are
#: already a day of one core; larger studies are several sweeps. The count is checked
#: from the axes' lengths before the plan is built.
MAX_RUNS = 1_000_000


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
    #: The plugin files the config names, as absolute paths (loaded when it is read).
    plugins: tuple[str, ...] = ()

    @classmethod
    def from_toml(cls, path: str | Path, overrides: Sequence[str] = ()) -> SweepConfig:
        """Read ``path``; apply ``overrides`` (``key=value``, the value a TOML value)."""
        path = Path(path)
        data = read_toml(path, SweepConfigError)
        for item in overrides:
            apply_override(data, item)
        return cls.from_dict(data, origin=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "<config>") -> SweepConfig:
        """Validate the config ``data`` (as TOML would give it) and build the sweep."""
        plain: dict[str, Any] = copy.deepcopy(dict(data))
        base = Path(origin).parent if origin != "<config>" else Path()
        # Plugins first: the strategies and workloads they register are checked below.
        plugins = load_config_plugins(plain.get(PLUGINS, []), base, origin)
        for table in plain:
            if table == PLUGINS:
                continue
            if table not in TABLES:
                hint = did_you_mean(table, TABLES, show=lambda near: f"[{near}]")
                raise SweepConfigError(
                    f"{origin}: unknown table [{table}]{hint}; "
                    "a sweep config has [sweep] and [params.<strategy>]"
                )
        sweep = plain.get("sweep")
        if not isinstance(sweep, dict):
            raise SweepConfigError(f"{origin}: no [sweep] table")
        valid = {**SCENARIO_KEYS, **SETTING_KEYS}
        for key in sweep:
            if key == PLUGINS:
                raise SweepConfigError(
                    f"{origin}: [sweep] {PLUGINS}: plugins = [...] goes at the top of the "
                    "file, before [sweep]"
                )
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
                settings[key] = typed(f"[sweep] {key}", sweep[key], expected)
        seed = settings.get("seed", 0)
        replications = settings.get("replications", 1)
        if seed < 0:
            raise SweepConfigError(f"{origin}: [sweep] seed = {seed}: must be >= 0")
        if replications < 1:
            raise SweepConfigError(f"{origin}: [sweep] replications = {replications}: must be >= 1")
        fixed: dict[str, Any] = {}
        axes: list[Axis] = []
        if "strategy" not in sweep:
            axes.append(Axis("strategy", tuple(registered())))
        for key, raw in sweep.items():
            if key not in SCENARIO_KEYS:
                continue
            values = as_values(f"[sweep] {key}", raw, SCENARIO_KEYS[key])
            if key == "profile":
                values = [_profile_path(v, base) for v in values]
            for i, value in enumerate(values):
                where = f"[sweep] {key}" + (f"[{i}]" if isinstance(raw, list) else "")
                check_value(f"{origin}: {where}", key, value)
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
        params, param_axes = parse_params(plain.get("params", {}), strategies, origin)
        points = math.prod(len(a.values) for a in axes if a.name != "strategy") * sum(
            math.prod(len(a.values) for a in param_axes[s]) for s in strategies
        )
        if points * replications > MAX_RUNS:
            raise SweepConfigError(
                f"{origin}: {points:,} point(s) x {replications:,} replication(s) make "
                f"{points * replications:,} runs; a sweep makes at most {MAX_RUNS:,} "
                "(split the study into several sweeps)"
            )
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
            plugins=plugins,
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
        return SweepPlan(seeds, len(points), tuple(groups))


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
        scenario.check_fits()  # a process larger than a node is found now, not in a worker
    except ValueError as error:
        point = ", ".join(
            f"{k}={v.name if isinstance(v, MachineProfile) else v!r}" for k, v in knobs.items()
        )
        raise SweepConfigError(f"{origin}: the point ({point}) cannot run: {error}") from None
    if scenario.workload in ("memory-writer", "cpu-bound") and (
        scenario.migrate_at >= scenario.process_cpu_seconds
    ):
        raise SweepConfigError(
            f"{origin}: migrate_at = {scenario.migrate_at:g} s is not before the process ends "
            f"(cpu_seconds = {scenario.process_cpu_seconds:g} s): the migration would never happen"
        )
    figures = scenario.trace_figures()
    if (
        figures is not None
        and scenario.loops
        and (scenario.migrate_at >= figures.cpu_seconds * scenario.loops)
    ):
        raise SweepConfigError(
            f"{origin}: migrate_at = {scenario.migrate_at:g} s is not before {scenario.workload} "
            f"ends ({scenario.loops} x {figures.cpu_seconds:.4g} s of CPU on "
            f"{scenario.profile.name}): the migration would never happen"
        )
    return scenario

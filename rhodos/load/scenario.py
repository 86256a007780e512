"""Scenario files: a load-sharing study written down, run by ``rhodos run SCENARIO.toml``.

A scenario names the nodes (in groups, possibly of several profiles), the workload,
the policies and the migration strategy::

    name = "a mixed lab"
    seed = 1
    duration = 200.0          # seconds of arrivals
    warmup = 20.0             # arrivals before this are not measured
    replications = 1

    [[nodes]]                 # one table per group of identical nodes
    count = 6
    profile = "sun3-ethernet"
    [[nodes]]
    count = 2
    profile = "sparc-ethernet" # another architecture: its processes stay among its nodes

    [workload]
    arrival_rate = 0.7        # per node and second
    service = "exp:1"         # exp:MEAN, pareto:ALPHA:LOW:HIGH, trace:FILE[:MEAN]
    memory = "64KiB"          # each process's address space
    dirty_rate = 0.0          # pages dirtied per CPU second
    # replay = { trace = "FILE", start = 7200.0, span = 600.0, speedup = 1.0 }
    # program = "trace:sort"  # every process runs this recorded program (a page trace,
    # loops = 1               # rhodos trace show), loops times: its own CPU demand,
                              # address space and writes, instead of service/memory

    [policy]
    name = "power-of-d"       # a preset of rhodos loadshare --policy
    d = 2                     # threshold, probe_limit, information, transfer, location,
    strategy = "eager"        # selection, names, trader, offer_period as well
    migration_cost = "model"  # or zero

    [owners]                  # idle workstations (Sprite): every node has an owner; work
    away_mean = 5400.0        # goes only to idle hosts, guests are evicted when owners
    present_mean = 1800.0     # return. Sessions: input_gap_mean, job_gap_mean, job_mean;
    input_quiet = 30.0        # the idle rule: input_quiet, load_below, window, sample,
    evict_to = "home"         # evict_to (home or idle). Sprite's values by default.

Every key is a dotted name (``workload.arrival_rate``, ``policy.name``, ``seed``...);
**a list where one value is expected makes that key a sweep axis**: the scenario then
stands for the Cartesian product of its axes, one run per point (``--set KEY=VALUE``
on the command line replaces a key, and ``--set KEY=[A,B]`` makes it an axis). The
file is data, read with :func:`rhodos.paths.read_toml`; every key and value is checked
before anything runs, and a wrong one is named in one line.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from rhodos.kernel import ClusterConfig, load_profile
from rhodos.load.owner import IdleRule, OwnerModel
from rhodos.load.study import LoadShareConfig
from rhodos.load.workload import TraceReplay
from rhodos.paths import read_toml
from rhodos.units import parse_size
from rhodos.validators import did_you_mean

__all__ = ["KEYS", "Scenario", "ScenarioError", "load_scenario"]


class ScenarioError(ValueError):
    """A scenario file that cannot be run: the message names the file and the key."""


#: The keys of ``[owners]``: each OwnerModel field, then each IdleRule field.
OWNER_FIELDS = {
    "away_mean": "away_mean_s",
    "present_mean": "present_mean_s",
    "input_gap_mean": "input_gap_mean_s",
    "job_gap_mean": "job_gap_mean_s",
    "job_mean": "job_mean_s",
}
RULE_FIELDS = {
    "input_quiet": "input_quiet_s",
    "load_below": "load_below",
    "window": "window_s",
    "sample": "sample_s",
    "evict_to": "evict_to",
}
#: The keys of a scenario, dotted, and the LoadShareConfig field each sets (``None``:
#: handled apart).
KEYS: dict[str, str | None] = {
    "name": None,
    "seed": "seed",
    "duration": "duration_s",
    "warmup": "warmup_s",
    "replications": "replications",
    "nodes": None,
    "workload.arrival_rate": "arrival_rate",
    "workload.service": "service",
    "workload.memory": "memory_bytes",
    "workload.dirty_rate": "dirty_rate",
    "workload.program": "program",
    "workload.loops": "loops",
    "workload.replay.trace": None,
    "workload.replay.start": None,
    "workload.replay.span": None,
    "workload.replay.speedup": None,
    "policy.name": "policy",
    "policy.d": "d",
    "policy.threshold": "threshold",
    "policy.probe_limit": "probe_limit",
    "policy.information": "information",
    "policy.transfer": "transfer",
    "policy.location": "location",
    "policy.selection": "selection",
    "policy.names": "names",
    "policy.strategy": "strategy",
    "policy.migration_cost": "migration_cost",
    "policy.trader": "trader",
    "policy.offer_period": "offer_period_s",
    **{f"owners.{key}": None for key in (*OWNER_FIELDS, *RULE_FIELDS)},
}
#: Keys whose value is itself a list (so a list of lists makes them an axis).
LISTS = ("nodes", "policy.names")
NODE_KEYS = ("count", "profile")


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in KEYS:
            if not value:
                raise ValueError(
                    f"[{dotted}] is empty: give it a key, e.g. [owners] away_mean = 5400.0"
                )
            out.update(_flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def _is_axis(key: str, value: Any) -> bool:
    if key in LISTS:
        return isinstance(value, list) and bool(value) and isinstance(value[0], list)
    return isinstance(value, list)


@attrs.frozen
class Scenario:
    """A scenario as read: where from, its fixed keys and its axes (key -> values)."""

    source: str
    fixed: dict[str, Any]
    axes: dict[str, list[Any]]

    @property
    def name(self) -> str:
        """The scenario's name (its file's stem unless it says)."""
        return str(self.fixed.get("name", Path(self.source).stem))

    def points(self) -> list[dict[str, Any]]:
        """Every point of the product of the axes, as the keys it sets."""
        keys = list(self.axes)
        return [
            dict(zip(keys, values, strict=True))
            for values in itertools.product(*(self.axes[k] for k in keys))
        ]

    def config(self, point: Mapping[str, Any] | None = None) -> LoadShareConfig:
        """The study of one point (the fixed keys and ``point``'s), checked."""
        values = {**self.fixed, **(point or {})}
        try:
            config = _build(values)
        except (ValueError, TypeError) as error:
            raise ScenarioError(f"{self.source}: {error}") from None
        problems = config.problems()
        if problems:
            raise ScenarioError(f"{self.source}: {problems[0]}")
        try:  # nodes of one architecture must share a page size
            ClusterConfig(
                nodes=config.nodes, profile=config.machine(), node_profiles=config.node_machines()
            )
        except ValueError as error:
            raise ScenarioError(f"{self.source}: {error}") from None
        return config

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """This scenario with ``overrides`` (dotted key -> value, a list making an axis)."""
        fixed, axes = dict(self.fixed), dict(self.axes)
        for key, value in overrides.items():
            _check_key(self.source, key)
            fixed.pop(key, None)
            axes.pop(key, None)
            (axes if _is_axis(key, value) else fixed)[key] = value
        return Scenario(self.source, fixed, axes)


def _check_key(source: str, key: str) -> None:
    if key not in KEYS:
        raise ScenarioError(
            f"{source}: unknown key {key!r}{did_you_mean(key, KEYS)}; keys: {', '.join(KEYS)}"
        )


def _nodes(groups: Any) -> tuple[int, tuple[str, ...] | None, str]:
    """The node count, the per-node profile names (None: one profile) and the first."""
    if isinstance(groups, int) and not isinstance(groups, bool):
        return groups, None, "sun3-ethernet"
    if not isinstance(groups, list) or not groups:
        raise ValueError("nodes must be a count or a list of {count, profile} tables")
    names: list[str] = []
    for i, group in enumerate(groups):
        if not isinstance(group, dict):
            raise ValueError(f"nodes[{i}] must be a table with count and profile")
        unknown = set(group) - set(NODE_KEYS)
        if unknown:
            raise ValueError(
                f"nodes[{i}]: unknown key {sorted(unknown)[0]!r}; keys: count, profile"
            )
        count = group.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"nodes[{i}].count must be an integer >= 1, got {count!r}")
        profile = group.get("profile", "sun3-ethernet")
        load_profile(profile)  # a name that is not a profile is named here
        names += [profile] * count
    return len(names), tuple(names) if len(set(names)) > 1 else None, names[0]


def _build(values: Mapping[str, Any]) -> LoadShareConfig:
    """The study the keys ``values`` describe."""
    nodes, profiles, first = _nodes(values.get("nodes", 4))
    fields: dict[str, Any] = {"nodes": nodes, "profile": first, "node_profiles": profiles}
    for key, field in KEYS.items():
        if field is None or key not in values:
            continue
        value = values[key]
        if key == "workload.memory":
            value = parse_size(value)
        if key == "policy.names":
            value = tuple(value)
        fields[field] = value
    replay = {k.rsplit(".", 1)[1]: v for k, v in values.items() if k.startswith("workload.replay.")}
    if replay:
        if "trace" not in replay:
            raise ValueError("workload.replay needs trace = FILE")
        fields["replay"] = TraceReplay(
            str(replay["trace"]),
            start_s=replay.get("start", 0.0),
            span_s=replay.get("span", 480 * 60.0),
            speedup=replay.get("speedup", 1.0),
        )
    owners = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("owners.")}
    if owners:
        fields["owners"] = OwnerModel(
            **{OWNER_FIELDS[k]: v for k, v in owners.items() if k in OWNER_FIELDS}
        )
        fields["idle"] = IdleRule(
            **{RULE_FIELDS[k]: v for k, v in owners.items() if k in RULE_FIELDS}
        )
    return LoadShareConfig(**fields)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check the scenario at ``path`` (every point is built once, so a wrong
    value is named before anything runs).

    Raises:
        ScenarioError: naming the file, the key and what is allowed (a file that cannot
            be read, or is not TOML, too).
    """
    source = str(path)
    table = read_toml(path, ScenarioError)
    try:
        flat = _flatten(table)
    except ValueError as error:
        raise ScenarioError(f"{source}: {error}") from None
    for key in flat:
        _check_key(source, key)
    fixed = {k: v for k, v in flat.items() if not _is_axis(k, v)}
    axes = {k: v for k, v in flat.items() if _is_axis(k, v)}
    scenario = Scenario(source, fixed, axes)
    for point in scenario.points():
        scenario.config(point)
    return scenario

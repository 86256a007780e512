"""The keys of a sweep config: what each takes, and the checks that say so.

A sweep config (see :mod:`rhodos.experiment.config`) has a ``[sweep]`` table, whose keys
are the fields of :class:`~rhodos.experiment.Scenario` (:data:`SCENARIO_KEYS`) and the
settings of the sweep itself (:data:`SETTING_KEYS`), and one ``[params.<strategy>]``
table per strategy. Every check here raises :class:`SweepConfigError` naming the key,
the value and what is allowed (an unknown key with the nearest valid one), before
anything runs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from rhodos.experiment.migration import Scenario
from rhodos.experiment.plan import Axis
from rhodos.migration_manager import make_strategy, registered
from rhodos.validators import did_you_mean

__all__ = [
    "PLUGINS",
    "SCENARIO_KEYS",
    "SETTING_KEYS",
    "TABLES",
    "SweepConfigError",
    "apply_override",
    "as_values",
    "check_value",
    "load_config_plugins",
    "parse_params",
    "typed",
]


class SweepConfigError(ValueError):
    """A sweep config that cannot run: the message names the key and what is allowed."""


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
    "loops": _INTEGER,
    "open_files": _INTEGER,
    "dirty_file_blocks": _INTEGER,
}
#: The keys of [sweep] that set up the sweep itself (never axes).
SETTING_KEYS: dict[str, str] = {"name": _STRING, "seed": _INTEGER, "replications": _INTEGER}
TABLES = ("sweep", "params")
#: The top-level key naming plugin files (before any table): ``plugins = ["mine.py"]``.
PLUGINS = "plugins"


def typed(where: str, value: Any, expected: str) -> Any:
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


def as_values(where: str, value: Any, expected: str) -> list[Any]:
    """The values of a key: a list is an axis, anything else one fixed value."""
    if isinstance(value, list):
        if not value:
            raise SweepConfigError(f"{where} is an empty list: an axis needs at least one value")
        return [typed(f"{where}[{i}]", v, expected) for i, v in enumerate(value)]
    return [typed(where, value, expected)]


def check_value(where: str, key: str, value: Any) -> None:
    """Build a scenario with ``key = value`` so a bad value fails now, naming the key."""
    try:
        if key == "strategy":
            make_strategy(value)
        else:
            Scenario(**{key: value}).cluster_config()
    except ValueError as error:
        raise SweepConfigError(f"{where} = {value!r}: {error}") from None


def parse_params(
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
                as_values(where, raw, expected)
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


def load_config_plugins(value: Any, base: Path, origin: str) -> tuple[str, ...]:
    """Load the plugin files a config names (relative to its folder); their paths."""
    from rhodos.plugins import PluginError, load_plugin

    where = f"{origin}: {PLUGINS}"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SweepConfigError(
            f"{where} = {value!r}: expected a list of Python files, e.g. ['mine.py']"
        )
    paths = []
    for name in value:
        path = Path(name) if Path(name).is_absolute() else base / name
        try:
            load_plugin(path)
        except PluginError as error:
            raise SweepConfigError(f"{where}: {str(error).removeprefix('--plugin ')}") from None
        paths.append(str(path.resolve()))
    return tuple(paths)


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
    if path[0] not in (*TABLES, PLUGINS):
        path = ["sweep", *path]
    table = data
    for part in path[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise SweepConfigError(f"--set {key}: {part!r} is not a table")
    table[path[-1]] = value

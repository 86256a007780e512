"""Specification: no command line, config or profile makes rhodos crash, hang or babble.

Hypothesis writes command lines for every command of the application -- found by
walking typer's command tree, so a command added tomorrow is fuzzed the day it is
registered -- from its own options and arguments: values of the right type and of the
wrong one, hostile numbers (NaN, infinities, 10^30, subnormals), sizes, names, paths that
are missing, folders, devices or unwritable, and generated sweep configs and machine
profiles (TOML that is valid, half valid, or not TOML at all). Every line must end in
one of:

* exit 0 (or a documented result status, see ``cli_contract``);
* exit 2 with exactly one ``error:`` line on stderr and no traceback;
* the start of a long computation (a cluster booted, a pool or a Dask cluster asked to
  run tasks): the input passed every check. It must not have got there with an output
  that cannot be written -- outputs are checked before computing.

The computation itself never runs here: those entry points are replaced by a sentinel,
so hundreds of lines take seconds. ``RHODOS_FUZZ_EXAMPLES`` sets how many (``make fuzz-cli``
runs thousands). A new command whose ``Path`` option is an input, not an output, is
listed in :data:`INPUT_PATHS`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from cli_contract import breach, invoke
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rhodos.cli import app
from rhodos.experiment import executor as executor_module
from rhodos.kernel import cluster as cluster_module
from rhodos.kernel import load_profile
from rhodos.migration_manager import registered
from rhodos.workload import pagetrace

EXAMPLES = int(os.environ.get("RHODOS_FUZZ_EXAMPLES", "150"))

#: Path parameters that are read, not written (every other Path option is an output).
INPUT_PATHS = {"--check", "config", "folder", "--plugin"}
#: Outputs that are typed as plain strings.
OUTPUT_STRINGS = {"--out", "--data"}


class Started(BaseException):
    """A long computation was about to start: the input passed every check."""


# -- the values a parameter may get ----------------------------------------------------
HOSTILE_NUMBERS = ["nan", "inf", "-inf", "-1", "0", "1e308", "5e-324", "1" + "0" * 30, "abc", ""]
WORDS = ["", "x", "nope", "[sweep]", "é", "a" * 300, "--", "-", "1", "local"]


def _pools() -> dict[Any, tuple[list[str], list[str]]]:
    """Parameter name (or type) -> (valid values, invalid or hostile ones)."""
    return {
        int: (["1", "2", "3"], ["0", "-1", "100000000", "1" + "0" * 30, "1.5", "abc", ""]),
        float: (["0", "0.1", "0.5", "2"], ["1e6", "1e7", *HOSTILE_NUMBERS]),
        "--strategy": (list(registered()), ["nope", "", "EAGER"]),
        "--profile": (["sun3-ethernet", "sparc-ethernet", "{profile}"], ["nope", "", "{folder}"]),
        "--memory": (["64KiB", "1MiB"], ["16MiB", "0", "-1", "lots", "1" + "0" * 40, "nan"]),
        "--workload": (["memory-writer", "cpu-bound", "pingpong"], ["nope", ""]),
        "--topology": (["shared", "star"], ["ring", ""]),
        "--scheduler": (["local", "tcp://127.0.0.1:1"], ["tls://127.0.0.1:1", "nonsense", ""]),
        "--set": (
            ["replications=2", "memory_bytes=['64KiB', '1MiB']", "params.precopy.max_rounds=3"],
            [
                "replications=1000000000",
                "params.precopy.max_rounds=abc",
                "sweep=1",
                "params=1",
                "nope=1",
                "a.b.c=1",
                "=",
                "x",
                "cpu_seconds=inf",
                "nodes=100000000",
            ],
        ),
        "--param": (["max_rounds=3"], ["max_rounds=0", "max_rounds=abc", "bogus=1", "=", "x"]),
        "--metric": (["latency_s", "slowdown", "bytes_total"], ["nope", "", "LATENCY"]),
        "names": (["sprite-1991", "accent-1987"], ["nope", "../../x", ""]),
        "config": (["{config}"], []),
    }


def _paths(workspace: Path) -> dict[str, list[str]]:
    """Paths to read (``read``), and outputs that can (``good``) or cannot (``bad``)
    be written, files and folders."""
    return {
        "read": [
            "{config}",
            "{profile}",
            "{folder}",
            str(workspace / "missing.toml"),
            str(workspace / "a-folder"),
            str(workspace / "not-toml.toml"),
            "/dev/zero",
            "/dev/null",
            "/proc/nope/x.toml",
        ],
        "good-file": [str(workspace / "out" / "f.json"), str(workspace / "new" / "sub" / "f.png")],
        "good-folder": [str(workspace / "out" / "folder"), str(workspace / "new-folder")],
        "bad-file": [str(workspace / "a-folder"), "/proc/nope/x.json", "/sys/rhodos/x.json"],
        "bad-folder": [str(workspace / "not-toml.toml"), "/proc/nope", "/sys/rhodos"],
    }


# -- generated sweep configs and profiles, as TOML text --------------------------------
_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value).replace("inf", "inf")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _key(key: str) -> str:
    return key if _KEY.fullmatch(key) else json.dumps(key)


def _document(tables: dict[str, dict[str, Any]], top: dict[str, Any] | None = None) -> str:
    lines = [f"{_key(k)} = {_toml(v)}" for k, v in (top or {}).items()]
    for name, table in tables.items():
        lines.append(f"[{'.'.join(_key(part) for part in name.split('.'))}]")
        lines += [f"{_key(k)} = {_toml(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


_scalars = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, 2, 3, 10**9, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 0.5, 1e-300, 1e308]),
    st.text(max_size=12),
    st.sampled_from(["64KiB", "1MiB", "lots", *registered(), "sun3-ethernet", "star"]),
    st.booleans(),
)
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), _scalars, max_size=2),
)
SWEEP_KEYS = [
    "strategy",
    "profile",
    "workload",
    "memory_bytes",
    "dirty_rate",
    "touch_fraction",
    "cpu_seconds",
    "migrate_at",
    "nodes",
    "topology",
    "home_calls_per_s",
    "name",
    "seed",
    "replications",
]


@st.composite
def sweep_configs(draw: st.DrawFn) -> str:
    """A sweep config: valid keys and junk ones, values of every type, sometimes not TOML,
    sometimes a valid one."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=60))
    if draw(st.integers(0, 2)) == 0:
        valid = {
            "strategy": draw(st.sampled_from([*registered(), list(registered())[:2]])),
            "memory_bytes": draw(st.sampled_from(["64KiB", ["64KiB", "256KiB"]])),
            "replications": draw(st.integers(1, 3)),
        }
        return _document({"sweep": valid})
    keys = st.one_of(st.sampled_from(SWEEP_KEYS), st.text(min_size=1, max_size=8))
    sweep = draw(st.dictionaries(keys, _values, max_size=5))
    tables: dict[str, dict[str, Any]] = {}
    if draw(st.booleans()):
        tables["sweep"] = sweep
    if draw(st.integers(0, 3)) == 0:
        strategy = draw(st.sampled_from([*registered(), "nope"]))
        name = draw(st.sampled_from(["max_rounds", "stop_pages", "push_rate", "bogus"]))
        tables[f"params.{strategy}"] = {name: draw(_values)}
    if draw(st.integers(0, 5)) == 0:
        tables[draw(st.text(min_size=1, max_size=6))] = {}
    return _document(tables)


@st.composite
def profiles(draw: st.DrawFn) -> str:
    """A profile: a built-in's fields, some changed to anything, dropped, or unknown."""
    fields = load_profile("sparc-ethernet").to_dict()
    sources = fields.pop("sources")
    names = sorted(fields)
    for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
        if draw(st.integers(0, 4)) == 0:
            del fields[name]
        else:
            fields[name] = draw(_values)
    if draw(st.integers(0, 4)) == 0:
        fields[draw(st.text(min_size=1, max_size=8))] = draw(_values)
    if draw(st.integers(0, 4)) == 0:  # a profile that starts from another (or itself)
        fields["base"] = draw(st.sampled_from(["sparc-ethernet", "profile.toml", "nope", 3]))
    return _document({"sources": sources}, top=fields)


# -- command lines --------------------------------------------------------------------
def _annotation(param: Any) -> Any:
    descriptor = getattr(param, "type_descriptor", None)
    return getattr(descriptor, "annotation", str)


def _is_path(param: Any) -> bool:
    annotation = _annotation(param)
    return annotation is Path or "Path" in str(annotation)


def _name(param: Any) -> str:
    return param.opts[0] if param.param_type_name == "option" else param.name


@st.composite
def values(draw: st.DrawFn, param: Any, paths: dict[str, list[str]]) -> tuple[str, str | None]:
    """A value for ``param`` (half the time a valid one), and ``"bad"`` when it is an
    output that cannot be written."""
    name = _name(param)
    valid, invalid = _pools().get(name) or _pools().get(_annotation(param)) or ([], [])
    if name in INPUT_PATHS:
        invalid = [*invalid, *paths["read"]]
    elif _is_path(param) or name in OUTPUT_STRINGS:
        kind = "folder" if name in ("--out", "-o") or "folder" in name else "file"
        bad = draw(st.integers(0, 3)) == 0
        value = draw(st.sampled_from(paths[f"{'bad' if bad else 'good'}-{kind}"]))
        return value, "bad" if bad else None
    if valid and (not invalid or draw(st.booleans())):
        return draw(st.sampled_from(valid)), None
    if invalid:
        return draw(st.sampled_from(invalid)), None
    return draw(st.one_of(st.sampled_from(WORDS), st.text(max_size=10))), None


@functools.cache
def _tree() -> Any:
    """The application's click command tree (its commands, their options and arguments)."""
    return typer.main.get_command(app)


@st.composite
def command_lines(draw: st.DrawFn, paths: dict[str, list[str]]) -> tuple[str, list[str], bool]:
    """A command of the tree, its arguments (and global options), and whether an output
    given cannot be written."""
    tree = _tree()
    words: list[str] = []
    bad = False

    def add(param: Any) -> None:
        nonlocal bad
        if getattr(param, "is_flag", False):
            words.append(draw(st.sampled_from(param.opts)))
            return
        for _ in range(draw(st.integers(1, 2)) if param.multiple else 1):
            value, problem = draw(values(param, paths))
            bad = bad or problem == "bad"
            if param.param_type_name == "option":
                words.append(draw(st.sampled_from(param.opts)))
            words.append(value)

    for param in tree.params:
        if draw(st.integers(0, 9)) == 0:
            add(param)
    command = tree
    names = []
    while hasattr(command, "commands") and (not names or draw(st.integers(0, 9)) > 0):
        name = draw(st.sampled_from(sorted(command.commands)))  # a group's command, or
        words.append(name)  # a command of a group of commands (rhodos trace record)
        names.append(name)
        command = command.commands[name]
    name = " ".join(names)
    for param in command.params:
        if draw(st.integers(0, 9)) < (9 if param.required else 4):
            add(param)
    if draw(st.integers(0, 9)) == 0:
        words.insert(draw(st.integers(0, len(words))), draw(st.sampled_from(["--bogus", "x"])))
    if draw(st.integers(0, 29)) == 0:
        words.append("--help")
    return name, words, bad


# -- the test ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder to run in (relative outputs land here), with nothing long allowed to run."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "a-folder").mkdir()
    (root / "not-toml.toml").write_text("[sweep\n")

    def started(*_args: Any, **_kwargs: Any) -> None:
        raise Started

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cluster_module.Cluster, "__init__", started)
        patch.setattr(executor_module.PoolExecutor, "map_unordered", started)
        patch.setattr(executor_module.DaskExecutor, "_start", started)
        patch.setattr(pagetrace, "record", started)  # runs a program under valgrind
        with contextlib.chdir(root):
            yield root


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_command_ends_in_a_result_or_one_clear_line(workspace: Path, data: Any) -> None:
    """exit 0, or exit 2 and one line; a computation only with writable outputs."""
    paths = _paths(workspace)
    name, args, bad_output = data.draw(command_lines(paths))
    config = workspace / "config.toml"
    config.write_text(data.draw(sweep_configs()), encoding="utf-8")
    profile = workspace / "profile.toml"
    profile.write_text(data.draw(profiles()), encoding="utf-8")
    places = {"{config}": config, "{profile}": profile, "{folder}": workspace / "a-folder"}
    for placeholder, path in places.items():
        args = [a.replace(placeholder, str(path)) for a in args]
    try:
        result = invoke(args)
    except Started:
        event(f"{name}: computing")
        assert not bad_output, f"rhodos {args}: computing with an output it cannot write"
        return
    event(f"{name}: exit {result.exit_code}")
    problem = breach(result)
    assert problem is None, f"rhodos {args}: {problem}"

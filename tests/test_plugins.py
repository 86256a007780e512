"""Extending without packaging: --plugin files, a sweep's plugins, workloads by entry point,
and compare's checks on every run it prints."""

from __future__ import annotations

import csv
import json
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import pytest
from typer.testing import CliRunner

import rhodos.workload.catalog as catalog
from rhodos.cli import app
from rhodos.cli.application import err_console
from rhodos.cli.migrate import VIOLATED
from rhodos.experiment import SweepConfig, SweepConfigError, run_sweep
from rhodos.experiment.executor import PoolExecutor
from rhodos.migration_manager import registered
from rhodos.plugins import PluginError, isolated, load_plugin, loaded_plugins
from rhodos.workload import make_workload, register
from rhodos.workload import registered as registered_workloads

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"

#: A strategy that breaks its promise: it leaves every page on the source (as
#: copy-on-reference does) but says it leaves nothing.
BROKEN = """
from typing import ClassVar

import attrs

from rhodos.migration_manager import BaseStrategy, Session, Steps, register


@register
@attrs.frozen
class Liar(BaseStrategy):
    name: ClassVar[str] = "liar"
    summary: ClassVar[str] = "copy-on-reference that promises no residual dependency"
    residual: ClassVar[str] = "none"

    def transfer(self, session: Session) -> Steps:
        yield from session.export_space()

    def cleanup(self, session: Session) -> Steps:
        yield from session.source_released()
"""


@pytest.fixture(autouse=True)
def fresh_registries() -> Iterator[None]:
    """Each test's plugins are gone after it."""
    with isolated():
        yield


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_a_plugin_file_adds_its_strategy_to_every_command() -> None:
    """`--plugin FILE.py` (repeatable) registers what the files register, for the command."""
    hybrid, echo = EXAMPLES / "precopy_postcopy.py", EXAMPLES / "echo.py"
    listed = invoke("--plugin", str(hybrid), "--plugin", str(echo), "strategies", "--json")
    assert listed.exit_code == 0, listed.output
    assert "precopy-postcopy" in [row["name"] for row in json.loads(listed.output)]
    assert "echo" in registered_workloads()
    args = ["migrate", "-s", "precopy-postcopy", "--workload", "echo", "--memory", "64KiB"]
    moved = invoke("--plugin", str(hybrid), "--plugin", str(echo), *args, "--json")
    assert moved.exit_code == 0, moved.output
    row = json.loads(moved.output)
    assert (row["strategy"], row["workload"], row["refused"]) == ("precopy-postcopy", "echo", None)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("missing.py", None, "missing.py: no such file"),
        ("notes.txt", "hello", "notes.txt: a plugin is a Python file (.py)"),
        ("raises.py", "import attrs\nx = 1 / 0\n", "ZeroDivisionError: division by zero (line 2)"),
        ("broken.py", "def f(:\n", "raised SyntaxError"),
        ("nothing.py", "import attrs\n", "it registers no strategy, workload or policy"),
        ("taken.py", BROKEN.replace('"liar"', '"eager"'), "the strategy 'eager', which is taken"),
    ],
)  # fmt: skip
def test_a_bad_plugin_is_one_line_and_exit_2(
    tmp_path: Path, name: str, text: str | None, message: str
) -> None:
    """A plugin that cannot be loaded is refused before the command runs, naming the file;
    nothing it registered stays."""
    path = tmp_path / name if text is None else write(tmp_path, name, text)
    before = dict(registered())
    width = err_console.width
    err_console.width = 200
    try:
        result = invoke("--plugin", str(path), "strategies")
    finally:
        err_console.width = width
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --plugin {path}"), lines
    assert message in lines[0]
    assert registered() == before


def test_loading_a_plugin_twice_is_loading_it_once(tmp_path: Path) -> None:
    """The same file (by whatever path) is imported once per process."""
    path = write(tmp_path, "liar.py", BROKEN)
    assert load_plugin(path) == ["strategy liar"]
    first = registered()["liar"]
    assert load_plugin(tmp_path / "." / "liar.py") == ["strategy liar"]
    assert registered()["liar"] is first
    assert loaded_plugins()[-1] == str(path.resolve())


def test_isolated_forgets_the_plugins_loaded_within(tmp_path: Path) -> None:
    """After `isolated()`, the registries and the plugins loaded are as they were."""
    with isolated():
        load_plugin(write(tmp_path, "liar.py", BROKEN))
        assert "liar" in registered()
    assert "liar" not in registered() and str(tmp_path / "liar.py") not in loaded_plugins()


SWEEP = """\
plugins = ["plugins/liar.py"]

[sweep]
strategy = ["liar", "eager"]
memory_bytes = "64KiB"
cpu_seconds = 0.6
migrate_at = 0.2
replications = 2
"""


def test_a_sweep_config_loads_its_plugins_and_ships_them_to_the_workers(tmp_path: Path) -> None:
    """`plugins` at the top of a config, relative to it, registers the strategy for the
    config's checks and in every worker of a process pool, which load it by path."""
    (tmp_path / "plugins").mkdir()
    write(tmp_path / "plugins", "liar.py", BROKEN)
    config = SweepConfig.from_toml(write(tmp_path, "sweep.toml", SWEEP))
    assert config.strategies == ("liar", "eager")
    assert config.plugins == (str((tmp_path / "plugins" / "liar.py").resolve()),)
    with PoolExecutor(2) as pool:
        run_sweep(config, tmp_path / "out", executor=pool)
    with (tmp_path / "out" / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["strategy"] for r in rows) == ["eager", "eager", "liar", "liar"]
    assert all(r["latency_s"] for r in rows)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('plugins = "liar.py"\n[sweep]\n', "plugins = 'liar.py': expected a list of Python files"),
        ('plugins = ["nope.py"]\n[sweep]\n', "plugins: "),
        ('[sweep]\nplugins = ["liar.py"]\n', "goes at the top of the file, before [sweep]"),
    ],
)
def test_a_sweep_config_says_what_is_wrong_with_its_plugins(
    tmp_path: Path, config: str, message: str
) -> None:
    """A plugins key of the wrong type or place, or a missing file, names the config."""
    path = write(tmp_path, "bad.toml", config)
    with pytest.raises(SweepConfigError, match=str(path)) as error:
        SweepConfig.from_toml(path)
    assert message in str(error.value)
    if "nope" in config:
        assert str(tmp_path / "nope.py") in str(error.value)


def test_compare_shows_a_run_that_breaks_an_invariant(tmp_path: Path) -> None:
    """A strategy that breaks its residual promise makes `compare` print the violation
    and exit with its own status; the honest strategies' runs pass the same checks."""
    path = write(tmp_path, "liar.py", BROKEN)
    args = ["compare", "--memory", "64KiB", "--cpu-seconds", "1", "-m", "residual_s"]
    with isolated():
        result = invoke("--plugin", str(path), *args)
    assert result.exit_code == VIOLATED
    broken = [line for line in result.output.splitlines() if "invariant violated" in line]
    assert broken and all("liar" in line for line in broken)
    assert "promises no residual dependency" in result.output
    assert "all hold" not in result.output
    honest = invoke(*args)
    assert honest.exit_code == 0 and "all hold." in honest.output


# -- workloads get what strategies have: a decorator and an entry-point group ----------------
@attrs.frozen
class Idle:
    """A workload that starts nothing (for the registry's tests)."""

    name: str = "idle"
    memory_bytes: int = 4096

    def start(self, cluster: Any, nodes: Any) -> list[int]:
        return []


def test_workloads_from_the_entry_point_group_are_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A package declaring a `rhodos.workloads` entry point adds its workload."""
    point = metadata.EntryPoint("idle", f"{__name__}:Idle", "rhodos.workloads")
    monkeypatch.setattr(
        catalog.metadata, "entry_points", lambda group: [point] if group == point.group else []
    )
    monkeypatch.setattr(catalog, "_PLUGINS_LOADED", False)
    assert registered_workloads()["idle"] is Idle
    assert make_workload("idle", memory_bytes=8192) == Idle(memory_bytes=8192)
    result = invoke("workloads")
    assert result.exit_code == 0 and "idle" in result.output


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (type("Plain", (), {"name": "plain"}), "must be an attrs class"),
        (attrs.frozen(type("Nameless", (), {"__annotations__": {"memory_bytes": "int"}})),
         "needs a field `name"),
        (attrs.frozen(type("Sizeless", (), {"__annotations__": {"name": "str"}, "name": "x"})),
         "needs a field `memory_bytes`"),
        (attrs.frozen(
            type("Idle2", (), {"__annotations__": {"name": "str", "memory_bytes": "int"},
                               "name": "idle2", "memory_bytes": 1})),
         "needs a method start(cluster, nodes)"),
    ],
)  # fmt: skip
def test_register_says_what_a_workload_lacks(cls: type[Any], message: str) -> None:
    """The decorator refuses a class the scenarios could not run, saying what is missing."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        register(cls)


def test_a_plugin_error_is_a_value_error() -> None:
    """Commands turn a PluginError into their one line and exit 2, like any bad input."""
    assert issubclass(PluginError, ValueError)

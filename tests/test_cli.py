"""The command line: documented JSON keys, clear errors with exit code 2, plugins."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.kernel import load_profile
from rhodos.migration_manager import BaseStrategy, registered, unregister
from rhodos.migration_manager import registry as registry_module

runner = CliRunner()

MIGRATE_KEYS = {
    "strategy",
    "profile",
    "memory_bytes",
    "latency_s",
    "freeze_s",
    "message_freeze_s",
    "total_s",
    "residual_s",
    "bytes_total",
    "messages_total",
    "remote_faults",
    "stall_s",
    "slowdown",
    "refused",
}


def invoke(*args: str) -> Any:
    """Run the command line in-process."""
    return runner.invoke(app, list(args))


def test_profiles_json_lists_every_builtin_with_its_key_fields() -> None:
    """`rhodos profiles --json` gives name, page size, bandwidth and latency of each profile."""
    result = invoke("profiles", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    names = {row["name"] for row in rows}
    assert {"sun3-ethernet", "sparc-ethernet", "modern-10gbe"} <= names
    for row in rows:
        assert {"name", "page_size_bytes", "network_bandwidth_bps", "network_latency_s"} <= set(row)


def test_profiles_check_validates_a_file(tmp_path: Path) -> None:
    """`--check` prints a valid file's profile and names the field of an invalid one."""
    good = tmp_path / "good.toml"
    load_profile("sun3-ethernet").save(good)
    result = invoke("profiles", "--check", str(good))
    assert result.exit_code == 0 and "valid profile" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(
        good.read_text().replace(
            "network_bandwidth_bps = 10000000.0", "network_bandwidth_bps = -1.0"
        )
    )
    result = invoke("profiles", "--check", str(bad))
    assert result.exit_code == 2 and "network_bandwidth_bps" in result.output


def test_migrate_json_has_the_documented_keys() -> None:
    """`rhodos migrate --json` prints one object with every documented key."""
    result = invoke("migrate", "--strategy", "eager", "--memory", "64KiB", "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert set(row) >= MIGRATE_KEYS
    assert row["strategy"] == "eager" and row["memory_bytes"] == 64 * 1024
    assert row["refused"] is None and row["latency_s"] > 0


def test_migrate_prints_a_phase_timeline() -> None:
    """Without --json, migrate prints the phases and the metrics."""
    result = invoke("migrate", "--strategy", "precopy", "--memory", "64KiB")
    assert result.exit_code == 0, result.output
    for phase in ("requested", "accepted", "round-1", "frozen", "resumed"):
        assert phase in result.output


def test_compare_runs_every_registered_strategy(tmp_path: Path) -> None:
    """`rhodos compare --json` gives one row per registered strategy; --csv and --plot write."""
    csv_path, png = tmp_path / "c.csv", tmp_path / "c.png"
    result = invoke(
        "compare", "--memory", "64KiB", "--json", "--csv", str(csv_path), "--plot", str(png)
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["strategy"] for row in rows] == list(registered())
    assert all(set(row) >= MIGRATE_KEYS for row in rows)
    assert csv_path.read_text().count("\n") == len(rows) + 1
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("migrate", "--strategy", "nope"), "registered strategies: eager, eager-dirty"),
        (("migrate", "--strategy", "eager", "--memory", "12XB"), "KiB, MiB, GiB"),
        (("migrate", "--strategy", "eager", "--workload", "nope"), "workloads are:"),
        (("migrate", "--strategy", "eager", "--profile", "nope"), "sun3-ethernet"),
        (("migrate", "--strategy", "precopy", "--param", "max_rounds=0"), "max_rounds must be"),
        (("migrate", "--strategy", "precopy", "--param", "bogus=1"), "parameters: max_rounds"),
        (("migrate", "--strategy", "eager", "--touch-fraction", "2"), "touch_fraction"),
        (("run", "--nodes", "0"), "nodes must be"),
        (("migrate", "--strategy", "eager", "--memory", "1GiB"), "--node-memory 1GiB"),
        (("sweep", "/nonexistent/sweep.toml"), "/nonexistent/sweep.toml: cannot read: no such"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2(args: tuple[str, ...], message: str) -> None:
    """Bad input names what is wrong and what is allowed; nothing runs."""
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_run_prints_the_node_and_process_summaries() -> None:
    """`rhodos run` summarises the default mix per node and per process."""
    result = invoke("run", "--nodes", "3")
    assert result.exit_code == 0, result.output
    assert "Nodes" in result.output and "Processes" in result.output and "exited" in result.output


@attrs.frozen
class Plugin(BaseStrategy):
    """A third party's strategy, found through the entry-point group."""

    name: ClassVar[str] = "plugin-eager"
    summary: ClassVar[str] = "eager, from a plugin"
    residual: ClassVar[str] = "none"


def test_strategies_from_the_entry_point_group_are_registered(monkeypatch: Any) -> None:
    """A package declaring a `rhodos.strategies` entry point adds its strategy."""
    point = metadata.EntryPoint("plugin-eager", f"{__name__}:Plugin", "rhodos.strategies")

    def entry_points(group: str) -> list[metadata.EntryPoint]:
        return [point] if group == "rhodos.strategies" else []

    monkeypatch.setattr(registry_module.metadata, "entry_points", entry_points)
    monkeypatch.setattr(registry_module, "_PLUGINS_LOADED", False)
    try:
        assert "plugin-eager" in registered()
        result = invoke("strategies", "--json")
        assert "plugin-eager" in [row["name"] for row in json.loads(result.output)]
    finally:
        unregister("plugin-eager")

"""`migrate` and `compare` reach what a sweep config reaches: run length, cluster size,
node memory, and the workload's own parameters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment import Scenario


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_cpu_seconds_and_nodes_set_the_run() -> None:
    """--cpu-seconds and --nodes reach the scenario (the heading says what ran)."""
    result = invoke("migrate", "-s", "eager", "--cpu-seconds", "3", "--nodes", "3")
    assert result.exit_code == 0, result.output
    assert "3 CPU-s" in result.output and "on 3 sun3-ethernet nodes" in result.output


def test_workload_parameters_reach_the_workload() -> None:
    """--workload-param sets a parameter no scenario field has: a pingpong of 500 rounds
    is still running at the request, where the default 100 rounds have ended."""
    args = ("migrate", "-s", "eager", "--workload", "pingpong", "--profile", "sparc-ethernet")
    short = invoke(*args, "--json")
    assert short.exit_code == 3
    long = invoke(*args, "--json", "--workload-param", "rounds=500")
    assert long.exit_code == 0, long.output
    assert json.loads(long.output)["refused"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--workload-param", "dirty_rate=5"), "set it there (--dirty-rate)"),
        (("--workload-param", "rounds=5"), "has no parameter 'rounds'"),
        (("--workload-param", "rounds"), "--workload-param takes key=value"),
        (("--memory", "64MiB", "--profile", "sparc-ethernet"), "--node-memory 64MiB"),
        (("--node-memory", "1000"), "whole number of 8 KiB pages"),
    ],
)
def test_a_bad_option_is_one_line_naming_what_to_do(args: tuple[str, ...], message: str) -> None:
    """Mistakes with the new options are bad input: exit 2, one line saying what to change."""
    result = invoke("compare", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_node_memory_lets_a_large_process_run() -> None:
    """A 64 MiB process refused by 16 MiB SPARCstations runs on nodes of 128 MiB."""
    args = ("--memory", "64MiB", "--profile", "sparc-ethernet", "--node-memory", "128MiB")
    result = invoke("migrate", "-s", "eager", *args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["memory_bytes"] == 64 << 20
    scenario = Scenario(profile="sparc-ethernet", memory_bytes="64MiB", node_memory_bytes="128MiB")
    assert scenario.cluster_config().profile.memory_bytes == 128 << 20

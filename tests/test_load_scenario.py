"""Specification of scenario files: ``rhodos run SCENARIO.toml``, node groups of several
profiles, keys as sweep axes, and bad keys or values named in one line."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from cli_contract import breach, invoke

from rhodos.kernel import ClusterConfig, load_profile
from rhodos.load.run import simulate
from rhodos.load.scenario import ScenarioError, load_scenario

SCENARIO = """
name = "lab"
seed = 3
duration = 25.0
warmup = 5.0

[[nodes]]
count = 3
profile = "sun3-ethernet"

[[nodes]]
count = 2
profile = "sparc-ethernet"

[workload]
arrival_rate = 0.6
service = "exp:1"
memory = "16KiB"

[policy]
name = "power-of-d"
d = 2
strategy = "eager"
migration_cost = "model"
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    """The scenario above, as a file."""
    path = tmp_path / "lab.toml"
    path.write_text(SCENARIO)
    return path


def test_node_groups_give_each_node_its_profile_and_keep_architectures_apart(
    scenario_file: Path,
) -> None:
    """Three Sun-3s and two SPARCs: each node has its group's profile, and no process born
    on one architecture ever runs on the other."""
    config = load_scenario(scenario_file).config()
    done = simulate(config, keep=True)
    cluster = done.cluster
    assert [n.profile.name for n in cluster.nodes] == ["sun3-ethernet"] * 3 + ["sparc-ethernet"] * 2
    assert [n.architecture for n in cluster.nodes] == ["m68k"] * 3 + ["sparc"] * 2
    assert len(done.processes) > 20
    for pid, origin, *_ in done.processes:
        ended = cluster.location_of.get(pid, origin)
        assert cluster.nodes[ended].architecture == cluster.nodes[origin].architecture


def test_a_list_makes_a_key_a_sweep_axis_and_set_replaces_keys(scenario_file: Path) -> None:
    """A list where one value is expected is an axis; overrides replace keys or add axes."""
    scenario = load_scenario(scenario_file)
    assert scenario.axes == {} and scenario.fixed["policy.d"] == 2
    swept = scenario.with_overrides({"policy.name": ["none", "random"], "seed": 4})
    assert swept.points() == [{"policy.name": "none"}, {"policy.name": "random"}]
    assert [swept.config(p).policy for p in swept.points()] == ["none", "random"]
    assert swept.config(swept.points()[0]).seed == 4


def test_the_same_scenario_gives_the_same_run(scenario_file: Path) -> None:
    """Same file, same seed: identical measurements."""
    config = load_scenario(scenario_file).config()
    first, second = simulate(config).replication, simulate(config).replication
    assert (first.mean_response_s, first.processes) == (second.mean_response_s, second.processes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("policy.nme", "x"), "unknown key 'policy.nme' (did you mean 'policy.name'?)"),
        (("policy.name", "fastest"), "unknown policy 'fastest'"),
        (("workload.memory", "lots"), "lots"),
        (("nodes", [{"count": 0}]), "nodes[0].count must be an integer >= 1"),
        (("nodes", [{"count": 2, "profile": "cray"}]), "cray"),
        (("policy.migration_cost", "some"), "--migration-cost must be one of zero, model"),
    ],
)
def test_bad_keys_and_values_are_named_with_the_file(
    scenario_file: Path, change: tuple[str, object], message: str
) -> None:
    """Every problem names the file and what is wrong, before anything runs."""
    scenario = load_scenario(scenario_file)
    with pytest.raises(ValueError) as raised:
        scenario.with_overrides(dict([change])).config()
    assert message in str(raised.value)


def test_a_file_that_is_not_toml_is_one_line(tmp_path: Path) -> None:
    """A broken file is refused with its name."""
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(ScenarioError, match=r"broken\.toml"):
        load_scenario(path)


def test_rhodos_run_prints_nodes_and_processes_and_json(scenario_file: Path) -> None:
    """``rhodos run FILE`` prints the summary, the nodes and the processes slowed most;
    ``--json`` every node and process; a sweep one row per point."""
    shown = invoke(["run", str(scenario_file), "--processes", "3"])
    assert breach(shown) is None and shown.exit_code == 0
    assert "mean response time" in shown.stdout and "sparc-ethernet" in shown.stdout
    assert "the 3 slowed down most" in shown.stdout
    data = json.loads(invoke(["run", str(scenario_file), "--json"]).stdout)
    assert len(data["nodes"]) == 5 and data["summary"]["processes"] == len(data["processes"])
    swept = invoke(["run", str(scenario_file), "--set", 'policy.name=["none","random"]'])
    assert swept.exit_code == 0 and "2 points" in swept.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "policy.nme=1"],
        ["--set", "nonsense"],
        ["--nodes", "3"],
        ["--processes", "-1"],
    ],
)
def test_rhodos_run_refuses_bad_input_in_one_line(scenario_file: Path, args: list[str]) -> None:
    """Exit 2 and one ``error:`` line."""
    result = invoke(["run", str(scenario_file), *args])
    assert result.exit_code == 2 and breach(result) is None


def test_nodes_of_one_architecture_must_share_a_page_size() -> None:
    """A process moves only among nodes of its architecture, so those must agree on the
    page size; nodes of another architecture may differ."""
    sun3 = load_profile("sun3-ethernet")
    odd = attrs.evolve(sun3, name="sun3-4k", page_size_bytes=4096)
    with pytest.raises(ValueError, match="nodes of architecture 'm68k' must share a page size"):
        ClusterConfig(nodes=2, profile=sun3, node_profiles=(sun3, odd))
    mixed = ClusterConfig(nodes=2, profile=sun3, node_profiles=(sun3, "sparc-ethernet"))
    assert [p.page_size_bytes for p in mixed.node_profiles or ()] == [8192, 4096]

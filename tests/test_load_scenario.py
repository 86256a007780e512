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


PROGRAM = """
seed = 2
duration = 120.0
warmup = 0.0

[[nodes]]
count = 2
profile = "sun3-ethernet"

[[nodes]]
count = 2
profile = "sparc-ethernet"

[workload]
arrival_rate = 0.02
program = "trace:sort"

[policy]
name = "power-of-d"
d = 2
strategy = "eager"
migration_cost = "model"
"""


def test_a_scenario_runs_a_recorded_program_as_every_process(tmp_path: Path) -> None:
    """``workload.program = "trace:sort"``: each process is the recorded program, its CPU
    demand the trace's instructions at its arrival node's speed (a SPARCstation runs it
    faster than a Sun-3, by their instruction rates), and every measured one finishes."""
    path = tmp_path / "sort.toml"
    path.write_text(PROGRAM)
    config = load_scenario(path).config()
    done = simulate(config, keep=True)
    sun3, sparc = load_profile("sun3-ethernet"), load_profile("sparc-ethernet")
    faster = sparc.instructions_per_s / sun3.instructions_per_s
    assert config.program_demand(sun3) == pytest.approx(
        faster * config.program_demand(sparc), rel=1e-12
    )
    demands = {origin: demand for _, origin, _, demand, _ in done.processes}
    assert demands == {
        0: config.program_demand(sun3),
        1: config.program_demand(sun3),
        2: config.program_demand(sparc),
        3: config.program_demand(sparc),
    }
    assert done.replication.unfinished == 0 and done.replication.processes >= 6
    assert min(response / demand for *_, demand, response in done.processes) >= 1


def test_a_recorded_program_loops_as_the_scenario_says(tmp_path: Path) -> None:
    """``workload.loops = 3`` triples each process's demand; alone on an idle node with
    free migration a process takes exactly that demand."""
    path = tmp_path / "sort.toml"
    path.write_text(PROGRAM)
    scenario = load_scenario(path).with_overrides(
        {"workload.loops": 3, "policy.name": "none", "policy.migration_cost": "zero"}
    )
    config = scenario.config()
    once = scenario.with_overrides({"workload.loops": 1}).config()
    assert config.program_demand(load_profile("sun3-ethernet")) == pytest.approx(
        3 * once.program_demand(load_profile("sun3-ethernet")), rel=1e-12
    )
    done = simulate(config, keep=True)
    alone = min(response / demand for *_, demand, response in done.processes)
    assert alone == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"workload.service": "exp:2"}, "service cannot be given with program = trace:sort"),
        ({"workload.memory": "64KiB"}, "memory cannot be given with program"),
        ({"workload.loops": 0}, "loops must be an integer >= 1"),
        ({"workload.program": "sort"}, "program must be a recorded program, trace:NAME"),
        ({"workload.program": "trace:nope"}, "unknown trace 'nope'"),
        ({"workload.arrival_rate": 0.1}, "the offered load per node is 1.22"),
        (
            {"workload.program": "trace:cc1"},
            "trace:cc1 needs 2,662 pages, more than the 1,024 of a sun3-ethernet node",
        ),
    ],
)
def test_a_recorded_programs_bad_companions_are_named(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    """The keys a recorded program sets itself, bad loops, unknown traces, an overload or
    a program too big for a node are refused in one line before anything runs."""
    path = tmp_path / "sort.toml"
    path.write_text(PROGRAM)
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path).with_overrides(change).config()
    assert message in str(raised.value)


OWNERS = """
seed = 4
duration = 1500.0
warmup = 0.0
nodes = 4

[workload]
arrival_rate = 0.01
service = "exp:40"
memory = "64KiB"
dirty_rate = 10.0

[policy]
name = "random"
strategy = "eager"
migration_cost = "model"

[owners]
away_mean = 240.0
present_mean = 120.0
"""


def test_owner_sessions_in_a_scenario_make_idle_workstations(tmp_path: Path) -> None:
    """``[owners]`` gives every node an owner: work goes only to idle hosts, owners who
    return evict their guests, and every measured process still finishes; `rhodos run`
    reports the idle time, the evictions and the CPU harvested."""
    path = tmp_path / "owners.toml"
    path.write_text(OWNERS)
    config = load_scenario(path).config()
    assert config.owners is not None and config.owners.away_mean_s == 240.0
    assert config.settings().idle is not None  # Sprite's rule by default
    done = simulate(config, keep=True)
    load = done.replication.load
    assert load.evictions > 0 and load.evicted >= load.evictions
    assert load.placed_remote > 0 and load.idle_s > 0
    assert done.replication.unfinished == 0
    assert sum(node.foreign_cpu_s for node in done.cluster.nodes) > 0
    shown = invoke(["run", str(path), "--json"])
    owners = json.loads(shown.stdout)["owners"]
    assert owners["evictions"] == load.evictions and 0 < owners["idle_fraction"] < 1
    plain = tmp_path / "plain.toml"
    plain.write_text(OWNERS.split("[owners]")[0])
    assert load_scenario(plain).config().settings().idle is None  # no owners, no rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[owners]\naway = 5.0\n", "unknown key 'owners.away' (did you mean 'owners.away_mean'?)"),
        ('[owners]\nevict_to = "cloud"\n', "cloud"),
        ("[owners]\naway_mean = -1.0\n", "away_mean_s"),
        ("[owners]\n", "[owners] is empty"),
    ],
)
def test_bad_owner_keys_are_named_with_the_file(tmp_path: Path, text: str, message: str) -> None:
    """Owner and idle-rule keys are checked like every other key."""
    path = tmp_path / "owners.toml"
    path.write_text(OWNERS.split("[owners]")[0] + text)
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path).config()
    assert message in str(raised.value) and "owners.toml" in str(raised.value)

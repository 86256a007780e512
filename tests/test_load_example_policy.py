"""The how-to's example policy: one short file, registered, and doing what it says."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from load_helpers import Job, exec_jobs, load_cluster

from rhodos.load import policy_settings, registered, unregister
from rhodos.load.run import LoadShareConfig, run_loadshare

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "remembering.py"


@pytest.fixture(scope="module")
def remembering() -> Iterator[str]:
    """Import the example (which registers it), and unregister it afterwards."""
    spec = importlib.util.spec_from_file_location("remembering_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module.Remembering.name
    unregister("location", module.Remembering.name)
    sys.modules.pop(spec.name, None)


def test_the_example_is_a_student_sized_file() -> None:
    """The example policy is one file of under 60 lines."""
    assert len(EXAMPLE.read_text().splitlines()) < 60


def test_importing_the_example_registers_it(remembering: str) -> None:
    """The @register decorator makes it a location policy by name."""
    assert remembering in registered("location")


def test_it_probes_its_choice_and_then_also_the_node_it_remembers(remembering: str) -> None:
    """With d = 1 on four nodes: the first decision probes one node (nothing is remembered
    yet); every later one probes its random choice and the remembered best, unless they
    are the same node."""
    settings = policy_settings("power-of-d", location=remembering, d=1, offer_period_s=1e6)
    cluster = load_cluster(4, settings)
    jobs = [Job(at=0.5 + 0.5 * i, node=0, cpu_s=0.2) for i in range(6)]
    cluster.run(until=exec_jobs(cluster, jobs))
    probes = cluster.node(0).statistics("load").probes_sent
    assert 1 + 5 <= probes <= 1 + 2 * 5


def test_a_short_study_runs_it(remembering: str) -> None:
    """It shares load: a study with it beats no sharing at rho = 0.8."""
    common = {"nodes": 6, "arrival_rate": 0.8, "duration_s": 40.0, "warmup_s": 5.0, "seed": 3}
    shared = run_loadshare(LoadShareConfig(policy="power-of-d", location=remembering, **common))
    alone = run_loadshare(LoadShareConfig(policy="none", **common))
    assert shared.mean_response_s < alone.mean_response_s
    assert shared.frac_migrated > 0

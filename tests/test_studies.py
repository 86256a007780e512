"""Load-sharing studies (folders with a study.toml) run by ``rhodos reproduce NAME``,
which prints their table, the folder's expected.txt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_contract import breach, invoke

from rhodos.experiment import reproduce as reproducing
from rhodos.experiment.claims import ExperimentError
from rhodos.experiment.reproduce import experiments_root
from rhodos.experiment.studies import list_studies, load_study

SMALL = """
title = "A small classic study"
kind = "load-sharing"
runner = "rhodos.load.experiment:classic_load_sharing"
renderer = "rhodos.load.experiment:render_rows"
scale = 0.01
seed = 1
parts = ["market"]
profile = "sun3-ethernet"   # described, not passed on: the runner takes no profile
"""


def test_every_shipped_study_names_functions_that_exist() -> None:
    """classic-load-sharing, harchol-balter-downey-1997 and idle-workstations are studies
    whose runner, renderer (and rows) are found; their keys reach the runner only when it
    takes them."""
    studies = list_studies(experiments_root())
    assert {"classic-load-sharing", "harchol-balter-downey-1997", "idle-workstations"} <= set(
        studies
    )
    for name in studies:
        study = load_study(name, experiments_root())
        assert set(study.arguments) >= {"scale", "seed"}
    classic = load_study("classic-load-sharing", experiments_root())
    assert classic.arguments["parts"] == ["mm1", "elz", "market"]
    assert "profile" not in classic.arguments


@pytest.fixture
def small_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An experiments folder holding one small study, as `rhodos reproduce` sees it."""
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "study.toml").write_text(SMALL)
    monkeypatch.setattr(reproducing, "experiments_root", lambda: tmp_path)
    monkeypatch.setattr(reproducing, "list_experiments", lambda root=None: [])
    return tmp_path


def test_reproduce_runs_a_named_study_and_updates_its_expected_output(small_root: Path) -> None:
    """``--update-expected`` writes the table printed; the next run prints it again; --json
    gives its rows; --all leaves studies alone."""
    written = invoke(["reproduce", "small", "--update-expected"])
    assert written.exit_code == 0 and breach(written) is None, written.stdout
    expected = (small_root / "small" / "expected.txt").read_text()
    assert expected.startswith("claim") and "power-of-2, 20 nodes, rho 0.9" in expected
    again = invoke(["reproduce", "small"])
    assert expected.strip() in again.stdout
    rows = json.loads(invoke(["reproduce", "small", "--json"]).stdout)
    assert rows[0]["experiment"] == "small" and rows[0]["reference"] == pytest.approx(2.6141, 1e-4)
    listed = invoke(["reproduce", "--list"])
    assert "small: A small classic study (a load-sharing study: run by name)" in listed.stdout


def test_a_study_naming_a_missing_function_is_refused(tmp_path: Path) -> None:
    """The runner is found before anything runs; a wrong one is named."""
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "study.toml").write_text(
        SMALL.replace("experiment:classic_load_sharing", "experiment:nothing")
    )
    with pytest.raises(ExperimentError, match=r"cannot find rhodos\.load\.experiment:nothing"):
        load_study("bad", tmp_path)

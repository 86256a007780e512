"""Specification: a sweep whose files fail it -- a full disk, a manifest that cannot be
written, results edited by hand -- says so in one line and loses no finished run."""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from cli_contract import breach, invoke

from rhodos.experiment import manifest as manifest_module
from rhodos.experiment.config import SweepConfig
from rhodos.experiment.executor import SerialExecutor
from rhodos.experiment.results import ResultsFile
from rhodos.experiment.sweep import run_sweep

CONFIG = """
[sweep]
name = "small"
replications = 3
strategy = ["eager", "postcopy"]
memory_bytes = "64KiB"
cpu_seconds = 0.4
migrate_at = 0.1
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def done_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the small sweep, run once (its config beside it)."""
    root = tmp_path_factory.mktemp("done")
    (root / "small.toml").write_text(CONFIG)
    run_sweep(SweepConfig.from_toml(root / "small.toml"), root / "out", executor=SerialExecutor())
    return root / "out"


def _statuses(folder: Path) -> list[str]:
    assert not (folder / "manifest.json.partial").exists(), "a .partial is left behind"
    data = json.loads((folder / "manifest.json").read_text())
    return [session["status"] for session in data["sessions"]]


def _reference(config: Path, tmp_path: Path) -> list[dict[str, Any]]:
    folder = tmp_path / "reference"
    run_sweep(SweepConfig.from_toml(config), folder, executor=SerialExecutor())
    return ResultsFile(folder / "results.csv").rows()


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_disk_that_fills_mid_sweep_is_one_line_and_resumable(
    config: Path, tmp_path: Path
) -> None:
    """Files may not grow past 4 KB (as on a full disk): the sweep stops at the rows that
    do not fit, in one line naming results.csv, keeps no half row, the session is
    "failed", and a resume with room finishes it to the rows of an undisturbed sweep."""
    folder = tmp_path / "out"
    config.write_text(CONFIG.replace("replications = 3", "replications = 10"))

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))

    args = [sys.executable, "-m", "rhodos", "sweep", str(config), "--out", str(folder)]
    done = subprocess.run(
        [*args, "--workers", "1", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: {folder / 'results.csv'}: file too large"), lines
    assert "--resume" in lines[0]
    assert _statuses(folder) == ["failed"]
    assert (folder / "results.csv").read_text().endswith("\n")
    assert 0 < len(ResultsFile(folder / "results.csv").finished()) < 20
    run_sweep(SweepConfig.from_toml(config), folder, executor=SerialExecutor(), resume=True)
    assert ResultsFile(folder / "results.csv").rows() == _reference(config, tmp_path)


def test_a_manifest_that_cannot_be_written_leaves_no_partial_file(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk is full for the rows and for the manifest's last word: no
    ``manifest.json.partial`` stays, and the next session marks that one "died"."""
    folder = tmp_path / "out"
    real_append = ResultsFile.append
    full = {"now": False}

    def append(self: ResultsFile, rows: Any) -> None:
        if full["now"]:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real_append(self, rows)
        full["now"] = True  # one group fits, then the disk is full

    def replace(source: Any, target: Any) -> None:
        if full["now"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        os.replace(source, target)

    monkeypatch.setattr(ResultsFile, "append", append)
    fake_os = types.SimpleNamespace(**{**vars(os), "replace": replace})
    monkeypatch.setattr(manifest_module, "os", fake_os)
    with pytest.raises(OSError, match=r"results\.csv"):
        run_sweep(SweepConfig.from_toml(config), folder, executor=SerialExecutor())
    assert _statuses(folder) == ["running"]  # its end could not be written
    monkeypatch.undo()
    run_sweep(SweepConfig.from_toml(config), folder, executor=SerialExecutor(), resume=True)
    assert _statuses(folder) == ["died", "complete"]
    assert ResultsFile(folder / "results.csv").rows() == _reference(config, tmp_path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("results.csv", 'run,point\n1,"unclosed\n'),
        ("results.csv", "run,point\nx,y\n"),
        ("manifest.json", "{not json"),
        ("manifest.json", "[1, 2]"),
    ],
)
def test_a_damaged_sweep_folder_is_named_in_one_line(
    name: str, text: str, done_sweep: Path, tmp_path: Path
) -> None:
    """A results file or manifest edited into nonsense: `plot` and `--resume` say which
    file is wrong, in one line."""
    config = done_sweep.parent / "small.toml"
    folder = tmp_path / "out"
    shutil.copytree(done_sweep, folder)
    (folder / name).write_text(text)
    for args in (["plot", str(folder)], ["sweep", str(config), "--out", str(folder), "--resume"]):
        result = invoke(args)
        assert breach(result) is None, breach(result)
        assert result.exit_code == 2 and str(folder / name) in result.stderr, result.stderr

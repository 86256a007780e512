"""The tutorial runs as a reader runs it: `python docs/tutorial.py`, from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.py"


def test_the_tutorial_runs_as_a_script_from_a_fresh_folder(tmp_path: Path) -> None:
    """`python docs/tutorial.py` ends well (its sweep's pool does not re-run the script),
    writes its figures under results/tutorial/ and leaves no temporary folder behind."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    done = subprocess.run(
        [sys.executable, str(TUTORIAL)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "8 runs" in done.stdout
    out = tmp_path / "results" / "tutorial"
    assert (out / "compare.png").stat().st_size > 10_000
    assert (out / "sweep" / "figures" / "memory_bytes.png").is_file()
    assert sorted(p.name for p in scratch.iterdir()) == []


def test_a_script_that_registers_a_strategy_keeps_its_workers_importing_it() -> None:
    """Workers skip the main script unless it registered a strategy they will need."""
    import attrs

    from rhodos.experiment import executor
    from rhodos.migration_manager import BaseStrategy, register, unregister

    assert not executor._main_registers_plugins()

    @attrs.frozen
    class Scripted(BaseStrategy):
        name = "scripted"
        summary = "eager, defined in a script"

    Scripted.__module__ = "__main__"
    register(Scripted)
    try:
        assert executor._main_registers_plugins()
    finally:
        unregister("scripted")

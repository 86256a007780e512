"""The tutorial runs from top to bottom as a script."""

from __future__ import annotations

import runpy
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.py"


def test_the_tutorial_runs_as_a_script(capsys: object) -> None:
    """docs/tutorial.py (Jupytext percent format) executes and its checks hold."""
    namespace = runpy.run_path(str(TUTORIAL), run_name="tutorial")
    assert namespace["result"].ran == 8
    assert len(namespace["records"]) >= 7

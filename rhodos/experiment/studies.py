"""Load-sharing studies as experiments: folders with a ``study.toml`` instead of an
``experiment.toml``.

A study's rows come from a function rather than from migrations and claims, and a full
run takes from minutes to hours, so ``rhodos reproduce NAME`` runs one only when it is
named (``--all`` runs the migration experiments). Its ``study.toml`` names the function
and how its rows are printed::

    title = "Classic load sharing: ..."
    kind = "load-sharing"
    runner = "rhodos.load.experiment:classic_load_sharing"   # (scale, *, seed, ...) -> rows
    rows = "rhodos.load.lifetimes:rows"                        # optional: runs -> rows
    renderer = "rhodos.load.experiment:render_rows"           # rows -> the table's text
    scale = 1.0
    seed = 1
    parts = ["mm1", "elz", "market"]    # passed on when the runner takes a parameter so named

Other keys describe the study to its reader and are not passed on. The table the run
prints is the folder's ``expected.txt`` (``--update-expected`` rewrites it).
"""

from __future__ import annotations

import importlib
import inspect
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from rhodos.experiment.claims import ExperimentError

__all__ = ["Study", "list_studies", "load_study", "run_study"]


def list_studies(root: Path) -> list[str]:
    """Names of the study folders under ``root`` (those holding a ``study.toml``)."""
    return sorted(p.parent.name for p in root.glob("*/study.toml"))


@attrs.frozen
class Study:
    """A study folder read: its function, how its rows are printed, what it is given."""

    name: str
    folder: Path
    title: str
    runner: Callable[..., Any]
    renderer: Callable[[Sequence[Any]], str]
    rows: Callable[[Any], Sequence[Any]] | None
    arguments: dict[str, Any]


def _function(where: str, reference: Any) -> Callable[..., Any]:
    if not isinstance(reference, str) or ":" not in reference:
        raise ExperimentError(f"{where}: a function is named module:name, got {reference!r}")
    module, _, name = reference.partition(":")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise ExperimentError(f"{where}: cannot find {reference}: {error}") from None
    if not callable(found):
        raise ExperimentError(f"{where}: {reference} is not a function")
    return found


def load_study(name: str, root: Path) -> Study:
    """Read ``root/name/study.toml``; its functions are found before anything runs."""
    path = root / name / "study.toml"
    where = str(path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for key in ("runner", "renderer"):
        if key not in data:
            raise ExperimentError(f"{where}: a study names its {key} (module:name)")
    runner = _function(where, data["runner"])
    taken = inspect.signature(runner).parameters
    arguments = {k: v for k, v in data.items() if k in taken}
    return Study(
        name,
        path.parent,
        str(data.get("title", name)),
        runner,
        _function(where, data["renderer"]),
        _function(where, data["rows"]) if "rows" in data else None,
        arguments,
    )


def run_study(study: Study, progress: Callable[[str], None] | None = None) -> list[Any]:
    """Run the study as its file says; its rows."""
    extra = (
        {"progress": progress} if "progress" in inspect.signature(study.runner).parameters else {}
    )
    result = study.runner(**study.arguments, **extra)
    return list(study.rows(result) if study.rows is not None else result)

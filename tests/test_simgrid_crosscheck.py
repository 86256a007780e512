"""The SimGrid cross-check's shipped table is what the simulators print today.

`experiments/simgrid-crosscheck/expected.txt` is the last table `make simgrid` measured.
rhodos's side of a row needs no SimGrid: one point is rerun here and must print the
same columns, so a model change that moves precopy shows up as a stale table (rerun
`make simgrid`). SimGrid's side is checked too when the driver has been built.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rhodos.experiment.reproduce import experiments_root

FOLDER = experiments_root() / "simgrid-crosscheck"
#: The point rerun: the cheapest of the grid (a few seconds).
POINT = (256, 0.1, 10e9)


def compare_module() -> ModuleType:
    """The experiment's compare.py, imported from its folder."""
    spec = importlib.util.spec_from_file_location("simgrid_compare", FOLDER / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def shipped_row(compare: ModuleType, point: object) -> list[str]:
    """The shipped table's row of ``point``, split into point, SimGrid, rhodos, ratios."""
    label = point.label  # type: ignore[attr-defined]
    text = (FOLDER / "expected.txt").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith(label + " ")]
    assert rows, f"no row {label!r} in expected.txt"
    return rows[0].split("|")


@pytest.fixture(scope="module")
def compare() -> ModuleType:
    return compare_module()


def test_rhodos_side_of_the_shipped_table_is_the_current_model(compare: ModuleType) -> None:
    """Rerunning rhodos at one point prints exactly the shipped row's rhodos columns."""
    memory_mib, intensity, bandwidth = POINT
    point = compare.Point(memory_mib * compare.MIB, intensity, bandwidth)
    profile = compare.profile_for(point)
    run = compare.run_rhodos(point, profile, compare.mapping(point, profile), compare.SEEDS[0])
    assert compare.rhodos_cells(run) + " " == shipped_row(compare, point)[2]


def test_simgrid_side_of_the_shipped_table_when_the_driver_is_built(compare: ModuleType) -> None:
    """With `make simgrid`'s driver built, SimGrid prints the shipped row's SimGrid columns."""
    driver = Path(FOLDER / "build" / "driver")
    if not driver.is_file():
        pytest.skip("SimGrid's driver is not built (`make simgrid` builds it)")
    memory_mib, intensity, bandwidth = POINT
    point = compare.Point(memory_mib * compare.MIB, intensity, bandwidth)
    profile = compare.profile_for(point)
    sg = compare.run_simgrid(driver, point, profile.network_latency_s)
    assert compare.simgrid_cells(sg) + " " == shipped_row(compare, point)[1]

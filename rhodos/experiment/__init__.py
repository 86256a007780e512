"""Experiments on top of the system: runs, comparisons, sweeps, results, plots."""

from rhodos.experiment.demo import DemoResult, NodeSummary, run_demo
from rhodos.experiment.migration import (
    Scenario,
    baseline_completion,
    compare,
    parse_size,
    run_migration,
    scenario_row,
)

__all__ = [
    "DemoResult",
    "NodeSummary",
    "Scenario",
    "baseline_completion",
    "compare",
    "parse_size",
    "run_demo",
    "run_migration",
    "scenario_row",
]

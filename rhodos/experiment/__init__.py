"""Experiments on top of the system: runs, comparisons, sweeps, results, plots."""

from rhodos.experiment.demo import DemoResult, NodeSummary, run_demo
from rhodos.experiment.migration import (
    Observer,
    Scenario,
    baseline_completion,
    compare,
    parse_size,
    run_migration,
    scenario_row,
)
from rhodos.experiment.trace import TraceRecorder

__all__ = [
    "DemoResult",
    "NodeSummary",
    "Observer",
    "Scenario",
    "TraceRecorder",
    "baseline_completion",
    "compare",
    "parse_size",
    "run_demo",
    "run_migration",
    "scenario_row",
]

"""Experiments on top of the system: runs, comparisons, sweeps, results, plots."""

from rhodos.experiment.config import SweepConfig
from rhodos.experiment.demo import DemoResult, NodeSummary, run_demo
from rhodos.experiment.executor import (
    DaskExecutor,
    PoolExecutor,
    RunFailed,
    SerialExecutor,
    make_executor,
)
from rhodos.experiment.migration import (
    Observer,
    Scenario,
    baseline_completion,
    compare,
    refusal_advice,
    run_migration,
    scenario_row,
)
from rhodos.experiment.schema import SweepConfigError
from rhodos.experiment.stats import summarize
from rhodos.experiment.sweep import SweepResult, run_sweep
from rhodos.experiment.trace import TraceRecorder
from rhodos.units import parse_size

__all__ = [
    "DaskExecutor",
    "DemoResult",
    "NodeSummary",
    "Observer",
    "PoolExecutor",
    "RunFailed",
    "Scenario",
    "SerialExecutor",
    "SweepConfig",
    "SweepConfigError",
    "SweepResult",
    "TraceRecorder",
    "baseline_completion",
    "compare",
    "make_executor",
    "parse_size",
    "refusal_advice",
    "run_demo",
    "run_migration",
    "run_sweep",
    "scenario_row",
    "summarize",
]

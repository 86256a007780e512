"""Experiments on top of the system: runs, comparisons, sweeps, results, plots."""

from rhodos.experiment.demo import DemoResult, NodeSummary, run_demo

__all__ = ["DemoResult", "NodeSummary", "run_demo"]

"""Shared fixtures: a booted cluster and a way to run a test's own simulated process."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from typing import Any

import pytest
import simpy
from hypothesis import settings

from rhodos.kernel import Cluster
from rhodos.system import boot

# `make test` draws the same property-test examples on every run, so that CI's verdict
# depends on the code and not on the draw; `RHODOS_HYPOTHESIS=explore` draws new ones each
# run (random seeds, the example database) to search further, e.g. before a release.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("RHODOS_HYPOTHESIS", "repeatable"))

#: A test's simulated process: a generator function yielding simpy events.
ProcessFn = Callable[..., Generator[simpy.events.Event, Any, Any]]
RunProcess = Callable[..., Any]


def _run_process(cluster: Cluster, fn: ProcessFn, *args: Any) -> Any:
    """Run ``fn(*args)`` as a simpy process until it ends; return its value."""
    process = cluster.env.process(fn(*args))
    cluster.run(until=process)
    return process.value


@pytest.fixture
def run_process() -> RunProcess:
    """``run_process(cluster, generator_fn, *args)``: run a test process, return its value."""
    return _run_process


@pytest.fixture
def cluster() -> Cluster:
    """A booted three-node cluster (plus its file server) on the Sun-3 profile, seed 0."""
    return boot(nodes=3, seed=0)

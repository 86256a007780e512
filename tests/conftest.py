"""Shared fixtures: a booted cluster and a way to run a test's own simulated process."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest
import simpy

from rhodos.kernel import Cluster
from rhodos.system import boot

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

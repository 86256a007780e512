"""Specification of the load-sharing workload: demand distributions and the real trace."""

from __future__ import annotations

import math
import types
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate

from rhodos.load.run import LoadShareConfig, run_loadshare
from rhodos.load.workload import (
    BoundedPareto,
    Exponential,
    ServiceError,
    TraceDemands,
    TraceReplay,
    parse_service,
    read_trace,
    trace_cpu_times,
)

TRACE = Path("/work/shared/data/csd-trace.csv.xz")
needs_trace = pytest.mark.skipif(not TRACE.is_file(), reason="the shared trace is not here")


def test_service_specs_read_as_the_command_line_writes_them() -> None:
    """exp, exp:MEAN and pareto:ALPHA:LOW:HIGH give those distributions."""
    assert parse_service("exp") == Exponential(1.0)
    assert parse_service("exp:2.5") == Exponential(2.5)
    assert parse_service("pareto:1:0.5:1000") == BoundedPareto(1.0, 0.5, 1000.0)
    assert parse_service("pareto:1.2:0.5:1000").spec == "pareto:1.2:0.5:1000"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gamma:2", "cannot read service 'gamma:2': write exp:MEAN, pareto:ALPHA:LOW:HIGH"),
        ("exp:0", "mean_s must be a finite number > 0"),
        ("exp:fast", "exp MEAN must be a number, got 'fast'"),
        ("pareto:1:2", "cannot read service"),
        ("pareto:1:10:2", "HIGH (2.0) must be above LOW (10.0)"),
        ("trace:/no/such/file", "trace file '/no/such/file' does not exist"),
    ],
)
def test_a_bad_service_spec_says_what_is_wrong(spec: str, message: str) -> None:
    """Each bad spec is refused with a line naming the problem."""
    with pytest.raises(ServiceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_service(spec)


@pytest.mark.parametrize(("alpha", "low", "high"), [(1.0, 0.5, 1000.0), (1.2, 0.1, 100.0)])
def test_the_bounded_pareto_mean_is_its_integral(alpha: float, low: float, high: float) -> None:
    """The closed-form mean equals the integral of x times the density."""
    norm = alpha * low**alpha / (1 - (low / high) ** alpha)
    integral, _ = integrate.quad(lambda x: x * norm * x ** (-alpha - 1), low, high, limit=200)
    assert BoundedPareto(alpha, low, high).mean == pytest.approx(integral, rel=1e-10)


def test_alpha_one_gives_the_one_over_t_tail_of_unix_lifetimes() -> None:
    """With alpha = 1 and no upper bound in sight, P(X > t | X > 1) = 1/t: the draws follow it
    (fixed seed; each fraction within 4 binomial standard errors)."""
    draws = BoundedPareto(1.0, 1.0, 1e9).draw(np.random.default_rng(3), 200_000)
    for t in (2.0, 10.0, 100.0):
        expected = 1 / t
        error = math.sqrt(expected * (1 - expected) / draws.size)
        assert abs((draws > t).mean() - expected) < 4 * error
    assert draws.min() >= 1.0 and draws.max() <= 1e9


@needs_trace
def test_the_trace_is_read_lazily_one_record_at_a_time() -> None:
    """read_trace is a generator: the first record comes before the file is read through."""
    records = read_trace(TRACE)
    assert isinstance(records, types.GeneratorType)
    first = next(records)
    assert (first.time_s, first.host, first.cpu_s, first.program) == (
        240 * 60 + 0.5,
        5,
        0.09,
        "s5make",
    )
    records.close()


@needs_trace
def test_the_traces_columns_are_minutes_and_seconds_over_eight_hours() -> None:
    """Read as minute and second, the trace spans 8 hours on six hosts, and each host's CPU
    seconds over 8 hours are the utilisations published with it; 7% of the processes run
    over 1 s and they use three quarters of the CPU time."""
    records = list(read_trace(TRACE))
    assert len(records) == 184_612
    times = np.array([r.time_s for r in records])
    assert times.min() >= 0 and times.max() < 480 * 60
    hosts = np.array([r.host for r in records])
    cpu = np.array([r.cpu_s for r in records])
    utilisation = [cpu[hosts == h].sum() / (8 * 3600) for h in range(6)]
    assert np.round(utilisation, 2).tolist() == [0.71, 0.10, 0.09, 0.37, 0.49, 0.60]
    assert (cpu > 1).mean() == pytest.approx(0.07, abs=0.005)
    assert cpu[cpu > 1].sum() / cpu.sum() == pytest.approx(0.75, abs=0.01)


@needs_trace
def test_trace_demands_keep_the_traces_shape_at_the_mean_asked_for() -> None:
    """Sampled and rescaled, the trace's CPU times have the mean asked for (so the arrival
    rate stays the load) and the same spread relative to it."""
    demands = parse_service(f"trace:{TRACE}:2")
    assert isinstance(demands, TraceDemands) and demands.mean == 2.0
    times = trace_cpu_times(TRACE)
    assert demands.scale * times.mean() == pytest.approx(2.0, rel=1e-12)
    draws = demands.draw(np.random.default_rng(0), 400_000)
    assert np.isin(np.round(draws / demands.scale, 9), np.round(times, 9)).all()
    # a heavy tail: the sample mean wanders, so only loosely
    assert draws.mean() == pytest.approx(2.0, rel=0.1)


@needs_trace
def test_a_replay_is_a_window_of_the_trace_sped_up_in_time_order() -> None:
    """Replaying ten minutes of the trace ten times faster: the window's processes arrive in
    time order within one simulated minute, each on its host's node, with its CPU time."""
    replay = TraceReplay(str(TRACE), start_s=3600.0, span_s=600.0, speedup=10.0)
    arrivals = replay.arrivals(nodes=6)
    window = [r for r in read_trace(TRACE) if 3600.0 <= r.time_s < 4200.0]
    assert len(arrivals) == len(window) > 100
    assert [a[0] for a in arrivals] == sorted(a[0] for a in arrivals)
    assert arrivals[0][0] >= 0 and arrivals[-1][0] < replay.duration_s == 60.0
    assert sorted((a[1], a[2]) for a in arrivals) == sorted((r.host, r.cpu_s) for r in window)
    assert replay.load(6) == pytest.approx(sum(r.cpu_s for r in window) / (6 * 60.0))


@needs_trace
def test_a_study_can_replay_the_trace() -> None:
    """Every process of the replayed window is measured (warm-up 0, duration its length)."""
    replay = TraceReplay(str(TRACE), start_s=3600.0, span_s=300.0, speedup=5.0)
    config = LoadShareConfig(nodes=6, replay=replay, duration_s=60.0, warmup_s=0.0, seed=1)
    result = run_loadshare(config)
    assert result.processes == len(replay.arrivals(6))
    assert result.mean_slowdown >= 1.0 and result.frac_migrated == 0.0

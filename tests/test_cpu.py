"""Specification of the CPU: processor sharing for user work, pre-emption by kernel work."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from rhodos.kernel import CPU
from rhodos.system import boot, processes, spawn
from rhodos.workload import Computer, ReferenceModel


def exactly(value: float) -> Any:
    """Compare simulated times to 1e-9 relative."""
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def make_cpu(speed: float = 1.0) -> tuple[simpy.Environment, CPU]:
    """A fresh environment and one CPU of ``speed``."""
    env = simpy.Environment()
    return env, CPU(env, "test", speed)


def finish_times(env: simpy.Environment, *events: simpy.Event) -> list[float]:
    """Run to the end; return when each event fired."""
    times: dict[simpy.Event, float] = {}
    for event in events:
        event.callbacks.append(lambda e: times.__setitem__(e, env.now))
    env.run()
    return [times[e] for e in events]


def at(env: simpy.Environment, when: float, action: Any) -> None:
    """Call ``action()`` at simulated time ``when``."""
    env.timeout(when).callbacks.append(lambda _: action())


# -- processor sharing ------------------------------------------------------------------


def test_one_job_alone_takes_its_cpu_time() -> None:
    """T seconds of user work alone on the CPU finish at T."""
    env, cpu = make_cpu()
    assert finish_times(env, cpu.execute(1.5).done) == [exactly(1.5)]
    assert cpu.statistics().user_seconds == exactly(1.5)


def test_cpu_speed_scales_user_work() -> None:
    """On a CPU twice as fast, T CPU-seconds take T / 2."""
    env, cpu = make_cpu(speed=2.0)
    assert finish_times(env, cpu.execute(1.5).done) == [exactly(0.75)]


def test_two_concurrent_jobs_each_take_twice_as_long() -> None:
    """Two jobs of T started together share the CPU and both finish at 2T."""
    env, cpu = make_cpu()
    a, b = cpu.execute(1.0), cpu.execute(1.0)
    assert cpu.runnable == 2
    assert finish_times(env, a.done, b.done) == [exactly(2.0), exactly(2.0)]


def test_a_late_third_job_slows_the_others_from_its_arrival() -> None:
    """A and B (1 s each) from 0, C (1 s) from 0.5: A and B end at 2.75, C at 3.0."""
    env, cpu = make_cpu()
    a, b = cpu.execute(1.0), cpu.execute(1.0)
    late: list[Any] = []
    at(env, 0.5, lambda: late.append(cpu.execute(1.0)))
    env.run(until=0.5 + 1e-9)
    # At 0.5 A and B have 0.75 s left each; three-way sharing ends them at 0.5 + 3 * 0.75.
    # C has then done 0.75 s and finishes its last 0.25 s alone.
    assert finish_times(env, a.done, b.done, late[0].done) == [
        exactly(2.75),
        exactly(2.75),
        exactly(3.0),
    ]


# -- kernel work ------------------------------------------------------------------------


def test_kernel_work_preempts_user_work() -> None:
    """0.1 s of kernel work in the middle of a 1 s user job ends the job at 1.1 s."""
    env, cpu = make_cpu()
    job = cpu.execute(1.0)
    kernel: list[simpy.Process] = []
    at(env, 0.5, lambda: kernel.append(cpu.kernel_work(0.1)))
    env.run(until=0.5 + 1e-9)
    assert finish_times(env, kernel[0], job.done) == [exactly(0.6), exactly(1.1)]
    stats = cpu.statistics()
    assert (stats.user_seconds, stats.kernel_seconds, stats.kernel_requests) == (
        exactly(1.0),
        exactly(0.1),
        1,
    )


def test_kernel_work_runs_one_piece_at_a_time() -> None:
    """Two pieces of kernel work requested together run one after the other."""
    env, cpu = make_cpu()
    first, second = cpu.kernel_work(0.1), cpu.kernel_work(0.2)
    assert finish_times(env, first, second) == [exactly(0.1), exactly(0.3)]


def test_preempt_returns_the_cpu_time_still_owed() -> None:
    """Pre-empting a 1 s job at 0.25 s returns 0.75 s still owed and stops the job."""
    env, cpu = make_cpu()
    job = cpu.execute(1.0)
    owed: list[float] = []
    at(env, 0.25, lambda: owed.append(cpu.preempt(job)))
    env.run()
    assert owed == [exactly(0.75)]
    assert not job.done.triggered
    assert cpu.runnable == 0


def test_a_down_cpu_pauses_user_work() -> None:
    """A CPU down from 0.25 s to 0.75 s delays a 1 s job to 1.5 s."""
    env, cpu = make_cpu()
    job = cpu.execute(1.0)
    at(env, 0.25, lambda: cpu.set_up(False))
    at(env, 0.75, lambda: cpu.set_up(True))
    assert finish_times(env, job.done) == [exactly(1.5)]


def test_kernel_work_on_a_down_cpu_does_not_restart_user_work() -> None:
    """Kernel work ending while the CPU is down leaves user work paused until it is up."""
    env, cpu = make_cpu()
    job = cpu.execute(1.0)
    at(env, 0.25, lambda: cpu.set_up(False))
    at(env, 0.3, lambda: cpu.kernel_work(0.1))
    at(env, 0.75, lambda: cpu.set_up(True))
    assert finish_times(env, job.done) == [exactly(1.5)]


# -- end to end -------------------------------------------------------------------------

#: Kernel messages on one node that a process's life costs: spawn request and reply,
#: create and open (two each), the thread's ``exited``, free and close (two each).
LOCAL_MESSAGES_PER_PROCESS = 1 + 2 + 2 + 1 + 1 + 2 + 2


def exit_times(programs: int, cpu_seconds: float) -> tuple[float, list[float]]:
    """Run ``programs`` never-faulting Computers on node 0; local IPC cost and exit times."""
    cluster = boot(nodes=1, seed=0)
    program = Computer(cpu_seconds=cpu_seconds, refs=ReferenceModel(refs_per_s=0.0))
    pids = [spawn(cluster, program, 0)[0] for _ in range(programs)]
    exits = [cluster.exit_event(pid) for pid in pids]
    times = finish_times(cluster.env, *exits)
    assert [p.faults for p in processes(cluster)] == [0] * programs
    assert [p.cpu_seconds for p in processes(cluster)] == [exactly(cpu_seconds)] * programs
    return cluster.profile.local_ipc_s, times


def test_one_program_alone_exits_after_its_cpu_time_plus_its_kernel_messages() -> None:
    """A lone Computer of T exits at T plus its 11 local messages (the CPU never idles)."""
    ipc, [alone] = exit_times(1, 1.0)
    assert alone == exactly(1.0 + LOCAL_MESSAGES_PER_PROCESS * ipc)


def test_two_programs_on_one_node_share_the_cpu() -> None:
    """Two Computers of T on one node both finish near 2T, the last exactly at 2T + 22 messages."""
    ipc, times = exit_times(2, 1.0)
    assert max(times) == exactly(2.0 + 2 * LOCAL_MESSAGES_PER_PROCESS * ipc)
    # Each exits about T later than alone; at most one process's messages apart.
    assert min(times) >= 2.0
    assert max(times) - min(times) <= LOCAL_MESSAGES_PER_PROCESS * ipc + 1e-9


# -- virtual time against a step-by-step processor-sharing model ------------------------


def reference_cpu(ops: list[tuple[float, str, Any]]) -> tuple[dict[int, float], dict[int, float]]:
    """Processor sharing stepped from change to change, every job's remainder updated.

    ``ops`` are (time, "job", (id, seconds)), (time, "kernel", seconds) or
    (time, "preempt", id), in time order, on a CPU of speed 1. Returns when each job
    ended and what each pre-empted job still needed.
    """
    left: dict[int, float] = {}
    ended: dict[int, float] = {}
    owed: dict[int, float] = {}
    kernel: list[float] = []  # durations of the pieces waiting, the first one running
    kernel_ends = math.inf
    now, pending = 0.0, list(ops)
    while pending or left or kernel:
        rate = 0.0 if kernel else 1.0 / max(1, len(left))
        job_ends = (
            min((now + s / rate for s in left.values()), default=math.inf) if rate else math.inf
        )
        next_op = pending[0][0] if pending else math.inf
        when = min(next_op, job_ends, kernel_ends)
        for i in left:
            left[i] -= rate * (when - now)
        now = when
        for i in [i for i, s in left.items() if s <= 1e-9]:
            ended[i] = now
            del left[i]
        if kernel and kernel_ends <= now:
            kernel.pop(0)
            kernel_ends = now + kernel[0] if kernel else math.inf
        if pending and pending[0][0] <= now:
            _, kind, what = pending.pop(0)
            if kind == "job":
                left[what[0]] = what[1]
            elif kind == "kernel":
                kernel.append(what)
                if len(kernel) == 1:
                    kernel_ends = now + what
            elif what in left:
                owed[what] = left.pop(what)
    return ended, owed


cpu_steps = st.lists(
    st.tuples(
        st.floats(0.0, 1.0),  # time since the previous step
        st.one_of(
            st.tuples(st.just("job"), st.floats(0.01, 2.0)),
            st.tuples(st.just("kernel"), st.floats(0.001, 0.5)),
            st.tuples(st.just("preempt"), st.integers(0, 10)),
        ),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(steps=cpu_steps)
def test_virtual_time_ends_every_job_when_step_by_step_sharing_does(
    steps: list[tuple[float, tuple[Any, ...]]],
) -> None:
    """Jobs, kernel work and pre-emptions at random: every job ends (or is pre-empted
    with what it still needed) when a model that updates every job at every change says."""
    env, cpu = make_cpu()
    jobs: list[Any] = []
    owed: dict[int, float] = {}
    ops: list[tuple[float, str, Any]] = []

    def driver() -> Generator[simpy.Event, Any, None]:
        for delay, (kind, what) in steps:
            yield env.timeout(delay)
            if kind == "job":
                ops.append((env.now, "job", (len(jobs), what)))
                jobs.append(cpu.execute(what))
            elif kind == "kernel":
                ops.append((env.now, "kernel", what))
                cpu.kernel_work(what)
            elif what < len(jobs) and not jobs[what].done.triggered:
                ops.append((env.now, "preempt", what))
                owed[what] = cpu.preempt(jobs[what])

    env.process(driver())
    env.run()
    ended, expected_owed = reference_cpu(ops)
    for i, job in enumerate(jobs):
        if i in owed:
            assert owed[i] == pytest.approx(expected_owed.get(i, 0.0), rel=1e-6, abs=1e-9)
        else:
            assert job.finished_at == pytest.approx(ended[i], rel=1e-6, abs=1e-9)
    assert cpu.runnable == 0
    stats = cpu.statistics()
    work = sum(job.amount for job in jobs) - sum(owed.values())
    assert stats.user_seconds == pytest.approx(work, rel=1e-6, abs=1e-9)

"""Specification of the CPU: processor sharing for user work, pre-emption by kernel work."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

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

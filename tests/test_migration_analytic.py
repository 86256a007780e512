"""Migration against arithmetic: what each strategy must cost on an idle network.

Every expected value is computed from the machine profile alone: a message of ``b``
bytes costs the sender's overhead, ``wire_bytes(b) / bandwidth``, the latency and the
receiver's overhead; a request to a server on the same node costs one local IPC each
way. The migrated process sleeps (it uses no CPU and sends nothing), so nothing else
competes for the CPUs or the network.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pytest

from rhodos.experiment import Scenario, run_migration
from rhodos.kernel import Cluster, ClusterConfig, Exit, MachineProfile, Sleep, Touch, load_profile
from rhodos.migration_manager import MigrationRecord
from rhodos.system import boot, migrate, spawn
from rhodos.workload import ProgramContext

KIB, MIB = 1 << 10, 1 << 20


def exactly(value: float) -> Any:
    """Equal to the microsecond (and in practice to rounding)."""
    return pytest.approx(value, abs=1e-6, rel=0)


@attrs.frozen
class Idle:
    """Sleeps across the migration, then touches ``touch`` pages (reads) and exits."""

    memory_bytes: int
    touch: tuple[int, ...] = ()
    name: str = "idle"

    def run(self, ctx: ProgramContext) -> Any:
        yield Sleep(2.0)
        if self.touch:
            pages = np.array(self.touch, dtype=np.int64)
            yield Touch(pages, np.zeros(pages.size, dtype=np.bool_))
        yield Exit(0)


def migrate_program(
    profile: MachineProfile, program: Any, strategy: str
) -> tuple[Cluster, MigrationRecord]:
    """Migrate a process of ``program`` from node 0 to node 1 at t = 1 s; run to the end."""
    cluster = boot(ClusterConfig(nodes=2, profile=profile))
    pid, _ = spawn(cluster, program, 0)
    out: dict[str, MigrationRecord] = {}

    def driver() -> Any:
        yield cluster.env.timeout(1.0)
        out["r"] = yield migrate(cluster, pid, 1, strategy)

    cluster.env.process(driver())
    cluster.run()
    return cluster, out["r"]


def migrate_idle(
    profile: MachineProfile, memory_bytes: int, strategy: str, touch: tuple[int, ...] = ()
) -> MigrationRecord:
    """Migrate an idle process from node 0 to node 1 at t = 1 s; run to the end."""
    return migrate_program(profile, Idle(memory_bytes, touch), strategy)[1]


class Costs:
    """The profile's message costs."""

    def __init__(self, profile: MachineProfile) -> None:
        self.p = profile
        self.local = profile.local_ipc_s

    def msg(self, payload: int) -> float:
        """One network message of ``payload`` bytes, overheads at both ends included."""
        p = self.p
        wire = p.wire_bytes(payload) / p.bandwidth_bytes_per_s
        return 2 * p.message_cpu_overhead_s + wire + p.network_latency_s

    def remote_call(self, request: int, reply: int = 64) -> float:
        """A server asks a peer on another node and gets the answer."""
        return self.msg(request) + self.msg(reply)

    def local_call(self) -> float:
        """A request to a server on the same node, and its answer."""
        return 2 * self.local


PAGE_MAP = 64 + 8  # a fresh address space is one run of pages at the source
COMM_STATE = 64  # an idle process's communication state: the header only


@pytest.fixture
def sun3() -> MachineProfile:
    """The Sun-3 profile with room for a 64 MiB address space."""
    return attrs.evolve(load_profile("sun3-ethernet"), memory_bytes=256 * MIB)


def c_state(c: Costs) -> float:
    """The execution state's move: the request, extraction, one message, installation."""
    p = c.p
    return c.local + p.state_extract_s + c.msg(p.execution_state_bytes) + p.state_install_s


def eager_latency(c: Costs, memory_bytes: int) -> float:
    """Eager's latency: every request of the protocol, in order."""
    hold = c.local_call()
    freeze = c.local_call()  # suspend; the accounting at the freeze comes with its reply
    page_map = c.local_call() + c.remote_call(PAGE_MAP)
    pages = c.local_call() + c.remote_call(memory_bytes)
    comm = c.local_call() + c.remote_call(COMM_STATE)
    return hold + freeze + page_map + pages + comm + c_state(c)


def test_eager_latency_is_fixed_costs_plus_the_address_space_over_the_bandwidth(
    sun3: MachineProfile,
) -> None:
    """Eager's latency is its requests' costs plus the whole space on the wire, to the µs."""
    costs = Costs(sun3)
    for size in (64 * KIB, 1 * MIB, 4 * MIB):
        record = migrate_idle(sun3, size, "eager")
        assert record.latency_s == exactly(eager_latency(costs, size))
        # the hold and the suspend request come before the process stops
        assert record.freeze_s == exactly(record.latency_s - 3 * costs.local)
        assert record.bytes_by_kind["pages"] == size
        # messages are held from the hold (one local request in) until the comm state is
        # installed on the destination, whose reply then comes back to the session
        installed = eager_latency(costs, size) - c_state(costs) - costs.local - costs.msg(64)
        assert record.message_freeze_s == exactly(installed - costs.local)


@attrs.frozen
class Writer:
    """Writes ``pages`` once, sleeps across the migration, exits."""

    memory_bytes: int
    pages: tuple[int, ...]
    name: str = "writer"

    def run(self, ctx: ProgramContext) -> Any:
        pages = np.array(self.pages, dtype=np.int64)
        yield Touch(pages, np.ones(pages.size, dtype=np.bool_))
        yield Sleep(2.0)
        yield Exit(0)


def test_the_page_map_is_charged_at_the_size_of_the_map_sent(sun3: MachineProfile) -> None:
    """Eager-dirty's map sends clean pages to the file server and dirty ones to the source:
    8 bytes per run of one place, after a 64-byte header."""
    cluster = boot(ClusterConfig(nodes=2, profile=sun3))
    written = (3, 4, 10)  # runs: 0-2 file, 3-4 source, 5-9 file, 10 source, 11- file
    pid, _ = spawn(cluster, Writer(1 * MIB, written), 0)
    out: dict[str, MigrationRecord] = {}

    def driver() -> Any:
        yield cluster.env.timeout(1.0)
        out["r"] = yield migrate(cluster, pid, 1, "eager-dirty")

    cluster.env.process(driver())
    cluster.run()
    record = out["r"]
    page_map = 64 + 8 * 5
    assert record.bytes_by_kind["state"] == sun3.execution_state_bytes + page_map + COMM_STATE
    assert record.bytes_by_kind["pages"] == len(written) * sun3.page_size_bytes


def test_eager_shows_its_page_copy_as_a_phase(sun3: MachineProfile) -> None:
    """Eager's phases name the copy: from ``page-map-sent`` to ``pages-sent`` is the request
    for the pages and their flow, to the µs; the communication state follows."""
    costs = Costs(sun3)
    record = migrate_idle(sun3, 1 * MIB, "eager")
    names = [name for name, _ in record.phases]
    assert names.index("page-map-sent") + 1 == names.index("pages-sent")
    assert names.index("pages-sent") + 1 == names.index("comm-moved")
    copy = record.phase("pages-sent") - record.phase("page-map-sent")
    assert copy == exactly(costs.local_call() + costs.remote_call(1 * MIB))


def test_eager_latency_grows_by_exactly_the_extra_pages_on_the_wire(sun3: MachineProfile) -> None:
    """Going from 1 MiB to 4 MiB adds exactly the wire time of the 3 MiB more."""
    small = migrate_idle(sun3, 1 * MIB, "eager").latency_s
    large = migrate_idle(sun3, 4 * MIB, "eager").latency_s
    extra = (sun3.wire_bytes(4 * MIB) - sun3.wire_bytes(1 * MIB)) / sun3.bandwidth_bytes_per_s
    assert large - small == exactly(extra)


def test_copy_on_reference_latency_stays_flat_over_three_orders_of_magnitude(
    sun3: MachineProfile,
) -> None:
    """Accent's finding: lazy relocation costs the same for 64 KiB and for 64 MiB."""
    lazy = [migrate_idle(sun3, size, "copy-on-reference") for size in (64 * KIB, 64 * MIB)]
    eager = [migrate_idle(sun3, size, "eager") for size in (64 * KIB, 64 * MIB)]
    assert lazy[1].latency_s <= 1.2 * lazy[0].latency_s
    assert eager[1].latency_s > 100 * eager[0].latency_s / 2  # eager grows with the space
    assert lazy[1].latency_s < eager[1].latency_s / 100


def test_copy_on_reference_moves_the_state_and_exactly_the_touched_pages(
    sun3: MachineProfile,
) -> None:
    """The bytes of a lazy migration are the state plus the pages touched after it."""
    touched = (3, 4, 10, 40, 41, 100)
    record = migrate_idle(sun3, 1 * MIB, "copy-on-reference", touch=touched)
    page = sun3.page_size_bytes
    assert record.remote_faults == len(touched)
    assert record.bytes_by_kind["pages"] == len(touched) * page
    assert record.bytes_by_kind["state"] == sun3.execution_state_bytes + PAGE_MAP + COMM_STATE
    # one fetch request per fault, plus negotiation and acknowledgements
    assert record.messages_by_kind["pages"] == len(touched)
    assert record.residual_s > 0  # the source served pages until the process exited


def test_copy_on_reference_latency_is_the_protocol_without_the_pages(sun3: MachineProfile) -> None:
    """Lazy latency is eager's with the page transfer left out, to the µs."""
    costs = Costs(sun3)
    record = migrate_idle(sun3, 1 * MIB, "copy-on-reference")
    no_pages = eager_latency(costs, 1 * MIB) - costs.local_call() - costs.remote_call(1 * MIB)
    assert record.latency_s == exactly(no_pages)


def test_freeze_free_resumes_after_exactly_its_four_critical_items() -> None:
    """Freeze-free's latency: one one-way message of PCB, code, heap and used stack."""
    profile = load_profile("sparc-ethernet")
    costs = Costs(profile)
    stack = 1024  # a process that never reported its stack pointer: the start-up stack
    record = migrate_idle(profile, 1 * MIB, "freeze-free")
    blast = profile.execution_state_bytes + PAGE_MAP + 2 * profile.page_size_bytes + stack
    expected = (
        costs.local_call()  # suspend (the accounting comes with the reply)
        + costs.local_call()  # the Memory Manager hands over the critical pages
        + costs.local  # the request to the Process Manager
        + profile.state_extract_s
        + costs.msg(blast)  # ONE one-way message
        + costs.local_call()  # the destination's Process Manager gives the pages to its MM
        + profile.state_install_s
    )
    assert record.latency_s == exactly(expected)
    assert record.messages_held == 0


@attrs.frozen
class DeepStack:
    """Reads its stack pages down to ``depth`` bytes, reporting that stack pointer; sleeps."""

    depth: int
    memory_bytes: int = 1 * MIB
    name: str = "deep-stack"

    def run(self, ctx: ProgramContext) -> Any:
        stack = ctx.layout.segments()[2]
        reach = -(-self.depth // ctx.page_size)
        pages = np.arange(stack.stop - 1, stack.stop - 1 - reach, -1)  # down to the pointer
        yield Touch(pages, np.zeros(pages.size, dtype=np.bool_), stack_depth=self.depth)
        yield Sleep(2.0)
        yield Exit(0)


@pytest.mark.parametrize(
    ("depth", "used"),
    [(100, 100), (1024, 1024), (4096, 4096), (5000, 5000 - 4096), (3 * 4096 + 1, 1)],
)
def test_freeze_free_sends_the_stack_page_from_the_stack_pointer(depth: int, used: int) -> None:
    """The blast carries the stack pointer's page from the pointer to the page's end: a
    stack ``depth`` bytes deep leaves ``depth mod 4096`` bytes (a whole page when it is a
    multiple) on a 4 KiB page, and the resume waits for exactly that message."""
    profile = load_profile("sparc-ethernet")
    cluster, record = migrate_program(profile, DeepStack(depth), "freeze-free")
    blasts = [
        dict(e.fields)["bytes"]
        for e in cluster.log.select("send", "network")
        if ("traffic", "state") in e.fields and record.frozen_at <= e.time <= record.resumed_at
    ]
    code_and_heap = 2 * profile.page_size_bytes
    assert blasts == [profile.execution_state_bytes + PAGE_MAP + code_and_heap + used]
    costs = Costs(profile)
    baseline = migrate_idle(profile, 1 * MIB, "freeze-free")  # 1 KiB of stack at start-up
    assert record.latency_s - baseline.latency_s == exactly(
        costs.msg(blasts[0]) - costs.msg(blasts[0] - used + 1024)
    )


def test_freeze_free_message_freeze_lasts_from_the_freeze_to_the_comm_state_s_arrival() -> None:
    """No message is held, yet from the freeze until the communication state is installed
    on the destination a message sent to the process can be neither received nor queued
    where it will run: the freeze, the resume notice's way back, the request to move the
    communication state, and that one-way message."""
    profile = load_profile("sparc-ethernet")
    costs = Costs(profile)
    record = migrate_idle(profile, 1 * MIB, "freeze-free")
    expected = (
        record.resumed_at
        - record.frozen_at  # analytic: the test above
        + costs.msg(64)  # the destination's resume notice reaches the source,
        + profile.message_cpu_s(64)  # which next receives the Departed sent after it
        + costs.local  # the move of the communication state asked
        + costs.msg(COMM_STATE)  # the communication state, one way
    )
    assert record.message_freeze_s == exactly(expected)
    assert record.messages_held == 0 and record.messages_delayed == 0


def test_freeze_free_sends_no_request_reply_across_the_network_before_resuming() -> None:
    """Between acceptance and resume exactly one network message goes to the destination:
    the blast. The source's flush to the file server begins once the blast is delivered,
    without waiting for the resume notice, and the resume does not wait for it."""
    profile = load_profile("sparc-ethernet")
    cluster, record = migrate_program(profile, Idle(1 * MIB), "freeze-free")
    sends = [
        e
        for e in cluster.log.select("send", "network")
        if record.accepted_at <= e.time <= record.resumed_at
    ]
    moved = [(dict(e.fields)["traffic"], dict(e.fields)["dst"]) for e in sends]
    file_server = cluster.file_server()
    assert [m for m in moved if m[1] != file_server] == [("state", 1)]
    assert [m for m in moved if m[1] == file_server] == [("flush", file_server)]
    blast, flush = (
        next(e for e in sends if ("traffic", t) in e.fields) for t in ("state", "flush")
    )
    # the flush's write leaves after the blast's delivery, the reply to the session and its
    # request to the Memory Manager (both local), and the write's own CPU
    costs = Costs(profile)
    size = dict(blast.fields)["bytes"]  # logged once the sender's CPU has done its part
    delivered = blast.time + costs.msg(size) - profile.message_cpu_s(size)
    assert flush.time == exactly(delivered + 2 * costs.local + profile.message_cpu_s(0))


def test_precopy_rounds_follow_the_dirtying_during_the_round_before() -> None:
    """Uniform dirtying: each round copies what was written while the one before ran.

    With D pages/s written uniformly over W pages, a window of t seconds dirties
    W(1 - exp(-D t / W)) distinct pages on average (plus the stack page every burst
    writes); the rounds shrink geometrically by about D * page / bandwidth.
    """
    scenario = Scenario(
        profile="sun3-ethernet",
        memory_bytes=2 * MIB,
        dirty_rate=30.0,
        touch_fraction=1.0,
        cpu_seconds=8.0,
        migrate_at=0.5,
    )
    record = run_migration(scenario, "precopy", {"max_rounds": 4, "stop_pages": 0})
    rounds = record.rounds
    assert len(rounds) == 5  # four live rounds and the final one
    pages = scenario.memory_bytes // scenario.profile.page_size_bytes
    heap = pages - 2 * max(1, pages // 8)
    assert rounds[0] == pages
    marks = [record.phase("page-map-sent")] + [record.phase(f"round-{i}") for i in range(1, 5)]
    marks.append(record.phase("frozen"))
    for i in range(1, 5):
        window = marks[i] - marks[i - 1]
        p = 1 - np.exp(-scenario.dirty_rate * window / heap)
        mean, sigma = heap * p + 1, np.sqrt(heap * p * (1 - p)) + 1
        assert abs(rounds[i] - mean) <= 4 * sigma, (i, rounds, mean, sigma)
    assert rounds[1] < rounds[0] / 3 and rounds[2] < rounds[1]
    assert record.freeze_s < record.latency_s / 10


def test_the_record_s_own_accounting_is_not_booked_as_migration_traffic(
    sun3: MachineProfile,
) -> None:
    """The control messages of the record are those sent for the process until it exited:
    the request for its final accounting, made after the exit, is not one of them."""
    cluster = boot(ClusterConfig(nodes=2, profile=sun3))
    pid, _ = spawn(cluster, Idle(64 * KIB), 0)
    out: dict[str, MigrationRecord] = {}

    def driver() -> Any:
        yield cluster.env.timeout(1.0)
        out["r"] = yield migrate(cluster, pid, 1, "eager")

    cluster.env.process(driver())
    cluster.run()
    record = out["r"]
    exited = next(e.time for e in cluster.log if e.event == "exit" and e.component == "thread")
    control = [
        e
        for e in cluster.log.select("send", "network")
        if ("account", pid) in e.fields and ("traffic", "control") in e.fields
    ]
    status = [e for e in cluster.log.select("send", "network") if ("kind", "status") in e.fields]
    assert [e.time > exited for e in status] == [True]  # the final accounting crossed over
    assert all(e.time <= exited for e in control)  # booked to no process
    assert record.messages_by_kind["control"] == len(control)

"""The fault-injection matrix: every strategy x every migration phase x every crashed node.

Each cell boots a fresh three-node cluster with a file server, starts a memory-writing
process (:class:`~rhodos.testing.oracles.MemoryOracle`, which checks every page's
version before it exits) on node 0, and migrates it to node 1; at the instant the
migration reaches the cell's phase, the cell's node -- the source, the destination or
the file server -- crashes, and comes back empty :data:`DOWN_S` later. With
``checkpoint`` the process has a checkpoint taken before the migration. The process
talks all along (:class:`~rhodos.faults.talkers.Chatter`): every four of its bursts it
sends the next of :data:`MESSAGES` numbers to an :class:`~rhodos.faults.talkers.Echo`
on node 2 (never crashed) and waits for it to come back.

A cell's outcome is exactly one of:

``completed``    the process ran to its end at the destination;
``rolled-back``  the migration was undone (or refused at the negotiation: nothing to
                 undo) and the process ran to its end at the source;
``restarted``    the process was restarted from its checkpoint and ran to its end;
``ended``        the process could not go on and ended, with the reason recorded.

and every cell is checked for what must never happen (:attr:`Cell.problems`): the
migration's record or the process's end never coming (a hang), the process running on
two nodes at once, a completed or rolled-back process's memory not surviving, an ended
process without a reason, a message taken twice or out of order, or a message silently
lost: sent, and neither taken by its receiving program nor returned to its sender as
undeliverable nor to or from a process reported lost. A cell runs until every message
is accounted for (or :data:`LIMIT_S`).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable
from typing import Any

import attrs
import simpy

from rhodos.faults.injector import FaultInjector
from rhodos.faults.plan import TARGETS, FaultPlan, PhaseCrash
from rhodos.faults.talkers import Chatter, Echo, Tally
from rhodos.kernel import LOST_EXIT_CODE, CheckpointImage, Cluster
from rhodos.migration_manager import MigrationRecord, registered
from rhodos.migration_manager.requests import Checkpoint
from rhodos.system import boot, spawn
from rhodos.system import migrate as system_migrate
from rhodos.testing.oracles import MemoryOracle

__all__ = ["DOWN_S", "OUTCOMES", "Cell", "matrix_strategies", "phases_of", "run_cell", "run_matrix"]

#: What a cell can end in.
OUTCOMES = ("completed", "rolled-back", "restarted", "ended")
#: How long a crashed node stays down.
DOWN_S = 2.0
#: Simulated seconds a cell may take before it counts as a hang.
LIMIT_S = 120.0
#: When the migration is asked for (the process started at 0).
MIGRATE_AT = 0.3
PID = 1
#: The migrating process's partner, an echo on node 2 (never crashed).
PARTNER = 2
#: Numbered messages the migrating process sends its partner (each comes back).
MESSAGES = 20


@attrs.frozen
class Cell:
    """One cell of the matrix: what was crashed when, and what became of it."""

    strategy: str
    phase: str
    target: str
    outcome: str
    #: The record's ``failed`` (or the reason the process ended).
    reason: str | None
    #: What must never happen and did (empty: none).
    problems: tuple[str, ...] = ()
    #: Numbered messages the process and its partner sent each other, the ones their
    #: receiving program took, those returned to their sender as undeliverable, and
    #: those to or from a process reported lost that its receiver never took (the
    #: loss's record covers them).
    sent: int = 0
    taken: int = 0
    undeliverable: int = 0
    with_lost: int = 0


def matrix_strategies() -> list[str]:
    """Every registered strategy but ``auto`` (which picks one of the others)."""
    return [name for name in registered() if name != "auto"]


def _start(cluster: Cluster) -> tuple[MemoryOracle, Tally]:
    """The migrating process on node 0 (a memory oracle that talks) and its echo on 2."""
    oracle = MemoryOracle(cluster, cpu_seconds=1.0, memory_bytes=128 * 1024)
    tally = Tally()
    spawn(cluster, Chatter(oracle, tally, MESSAGES), 0, pid=PID, peers={"peer": PARTNER})
    spawn(cluster, Echo(tally, MESSAGES), 2, pid=PARTNER, peers={"peer": PID})
    return oracle, tally


def phases_of(strategy: str, *, seed: int = 0) -> list[str]:
    """The phases a fault-free migration of the matrix's process goes through, in order."""
    cluster = boot(nodes=3, seed=seed)
    # Failure detection on, as in the cells: the message log and acknowledgements take time.
    FaultInjector(cluster, FaultPlan(restart_from_start=False, until_s=LIMIT_S))
    _start(cluster)
    answer: list[MigrationRecord] = []

    def driver() -> Generator[simpy.events.Event, Any, None]:
        yield cluster.env.timeout(MIGRATE_AT)
        answer.append((yield system_migrate(cluster, PID, 1, strategy)))

    cluster.env.process(driver())
    while not answer and cluster.env.peek() < LIMIT_S:
        cluster.env.step()
    names: list[str] = []
    for name, _ in answer[0].phases if answer else ():
        if name not in names:
            names.append(name)
    return names


def run_cell(
    strategy: str, phase: str, target: str, *, checkpoint: bool = False, seed: int = 0
) -> Cell:
    """Run one cell; see the module docstring."""
    cluster = boot(nodes=3, seed=seed)
    injector = FaultInjector(
        cluster,
        FaultPlan(
            phase_crashes=(PhaseCrash(PID, phase, target, DOWN_S),),
            restart_from_start=False,
            until_s=LIMIT_S,
        ),
    )
    oracle, tally = _start(cluster)
    env = cluster.env
    records: list[MigrationRecord] = []
    problems: list[str] = []
    seen_twice: list[float] = []

    def driver() -> Generator[simpy.events.Event, Any, None]:
        if checkpoint:
            yield env.timeout(MIGRATE_AT / 6)
            taken = yield cluster.node(0).submit("migration", Checkpoint(PID))
            if not isinstance(taken, CheckpointImage):
                problems.append(f"the checkpoint was not taken: {taken}")
        yield env.timeout(max(0.0, MIGRATE_AT - env.now))
        records.append((yield system_migrate(cluster, PID, 1, strategy)))

    def watch() -> Generator[simpy.events.Event, Any, None]:
        while env.now < LIMIT_S:
            running = [n.node_id for n in cluster.nodes if PID in n.threads]
            if len(running) > 1:
                seen_twice.append(float(env.now))
            yield env.timeout(0.001)

    env.process(driver())
    env.process(watch())
    exited = cluster.exit_event(PID)
    deadline = time.monotonic() + 60.0
    while env.peek() < LIMIT_S and not (exited.triggered and records and _settled(tally)):
        cluster.env.step()
        if time.monotonic() > deadline:
            problems.append("the run took over 60 s of wall-clock time")
            break
    if not injector.crashes:
        problems.append(f"nothing crashed: the migration did not reach {phase}")
    if not records:
        problems.append("the migration's record never came (a hang)")
    if not exited.triggered:
        problems.append("the process neither finished nor was reported lost (a hang)")
    if seen_twice:
        problems.append(f"the process ran on two nodes at once (first at {seen_twice[0]:.6f} s)")
    record = records[0] if records else None
    reason = record.failed if record is not None else None
    code = exited.value if exited.triggered else None
    if code == LOST_EXIT_CODE:
        outcome = "ended"
        why = injector.journal.lost.get(PID) or _lost_reason(cluster) or reason
        if not why:
            problems.append("the process ended without a reason")
        reason = why
    elif injector.journal.restarts.get(PID):
        outcome = "restarted"
    elif record is not None and (record.outcome == "rolled-back" or record.refused):
        reason = reason or f"refused: {record.refused}"
        outcome = "rolled-back"
        if cluster.location_of[PID] != 0:
            problems.append("rolled back, but the process ended away from the source")
    else:
        outcome = "completed"
        if cluster.location_of.get(PID) != 1:
            problems.append(
                f"completed, but the process ended on node {cluster.location_of.get(PID)}"
            )
    if outcome in ("completed", "rolled-back") and code == 0:
        problems.extend(oracle.violations)
    ended = frozenset({PID}) if outcome == "ended" else frozenset()
    problems.extend(_message_problems(tally, ended))
    return Cell(
        strategy,
        phase,
        target,
        outcome,
        reason,
        tuple(problems),
        tally.messages,
        sum(tally.taken.values()),
        tally.undeliverable,
        tally.lost() - tally.lost(ended),
    )


def _settled(tally: Tally) -> bool:
    """Whether every message sent was taken or returned (none is still on its way)."""
    return sum(tally.taken.values()) + tally.undeliverable >= tally.messages


def _message_problems(tally: Tally, ended: frozenset[int]) -> list[str]:
    """Messages sent that were neither taken exactly once, in order, nor returned, nor
    to or from a process of ``ended`` (reported lost)."""
    problems = []
    if tally.lost(ended):
        problems.append(f"{tally.lost(ended)} message(s) silently lost")
    if tally.duplicated:
        problems.append(f"{tally.duplicated} message(s) taken twice")
    if tally.out_of_order:
        problems.append(f"{tally.out_of_order} message(s) taken out of order")
    return problems


def _lost_reason(cluster: Cluster) -> str | None:
    for event in cluster.log.select("lost", component="process"):
        fields = dict(event.fields)
        if fields.get("pid") == PID:
            return str(fields.get("why"))
    return None


def run_matrix(
    strategies: Iterable[str] | None = None, *, checkpoint: bool = False, seed: int = 0
) -> list[Cell]:
    """Every cell of the matrix, strategy by strategy, phase by phase, target by target."""
    cells = []
    for strategy in strategies or matrix_strategies():
        for phase in phases_of(strategy, seed=seed):
            for target in TARGETS:
                cells.append(run_cell(strategy, phase, target, checkpoint=checkpoint, seed=seed))
    return cells


# -- the matrix in docs/fault-tolerance.md ----------------------------------------------

#: The markers between which docs/fault-tolerance.md holds the generated matrix.
BEGIN = "<!-- fault matrix: generated by `python -m rhodos.faults.matrix`; do not edit -->"
END = "<!-- end of fault matrix -->"


def counts(cells: Iterable[Cell]) -> dict[str, int]:
    """How many cells ended in each outcome."""
    tally = dict.fromkeys(OUTCOMES, 0)
    for cell in cells:
        tally[cell.outcome] += 1
    return tally


def render(plain: list[Cell], checkpointed: list[Cell]) -> str:
    """The generated section: both matrices, one row per strategy and phase."""
    lines = [BEGIN, ""]
    for title, cells in (
        ("Without a checkpoint", plain),
        ("With a checkpoint taken before the migration", checkpointed),
    ):
        tally = counts(cells)
        summary = ", ".join(f"{outcome} {tally[outcome]}" for outcome in OUTCOMES)
        problems = sum(len(cell.problems) for cell in cells)
        sent, taken = sum(c.sent for c in cells), sum(c.taken for c in cells)
        returned, gone = sum(c.undeliverable for c in cells), sum(c.with_lost for c in cells)
        lines += [
            f"### {title}",
            "",
            f"{len(cells)} cells: {summary}; problems: {problems}. Messages: {sent} sent, "
            f"{taken} taken, {returned} returned as undeliverable, {gone} with a lost process.",
            "",
            "| strategy | phase reached | source crashes | destination crashes "
            "| file server crashes |",
            "| --- | --- | --- | --- | --- |",
        ]
        rows: dict[tuple[str, str], dict[str, Cell]] = {}
        for cell in cells:
            rows.setdefault((cell.strategy, cell.phase), {})[cell.target] = cell
        for (strategy, phase), by_target in rows.items():
            outcomes = [_shown(by_target[t]) for t in TARGETS]
            lines.append(f"| {strategy} | {phase} | " + " | ".join(outcomes) + " |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _shown(cell: Cell) -> str:
    """A cell of the table: its outcome, then its messages taken of those sent, and the
    ones returned or gone with a lost process; ``(!)`` when it has a problem."""
    text = f"{cell.outcome} {cell.taken}/{cell.sent}"
    if cell.undeliverable:
        text += f" +{cell.undeliverable} returned"
    if cell.with_lost:
        text += f" +{cell.with_lost} with lost"
    return text + (" (!)" if cell.problems else "")


def update(path: str, text: str, *, begin: str = BEGIN, end: str = END) -> bool:
    """Put ``text`` between the markers of ``path``; whether the file changed."""
    with open(path, encoding="utf-8") as handle:
        page = handle.read()
    start, stop = page.index(begin), page.index(end) + len(end)
    new = page[:start] + text + page[stop:]
    if new != page:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(new)
    return new != page


if __name__ == "__main__":  # pragma: no cover - the generator of the docs
    import sys

    doc = sys.argv[1] if len(sys.argv) > 1 else "docs/fault-tolerance.md"
    changed = update(doc, render(run_matrix(), run_matrix(checkpoint=True)))
    print(f"{doc}: {'updated' if changed else 'already current'}")

"""The fault-injection matrix: every strategy x every phase x {source, destination, file
server} crashed ends in exactly one outcome, never in a hang, a duplicate or silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from rhodos.faults.matrix import (
    BEGIN,
    END,
    MESSAGES,
    OUTCOMES,
    Cell,
    matrix_strategies,
    render,
    run_matrix,
)

DOC = Path(__file__).parent.parent / "docs" / "fault-tolerance.md"
Matrices = tuple[list[Cell], list[Cell]]

#: A known defect, kept visible (docs/fault-tolerance.md, "Limits"): a freeze-free
#: process whose source crashes right after it resumed at the destination loses the
#: communication state still at the source; the empty state the destination makes
#: instead numbers every channel from 1 again, so the echo's reply, sent again, waits
#: forever for the numbers before it, and the process waits forever for the reply.
#: (without a checkpoint?, strategy, phase, target) -> the problems it shows.
KNOWN_DEFECTS = {
    (True, "freeze-free", "resumed", "source"): (
        "the process neither finished nor was reported lost (a hang)",
        "1 message(s) silently lost",
    ),
}


@pytest.fixture(scope="module")
def matrices() -> Matrices:
    return run_matrix(), run_matrix(checkpoint=True)


def cell(cells: list[Cell], strategy: str, phase: str, target: str) -> Cell:
    [found] = [c for c in cells if (c.strategy, c.phase, c.target) == (strategy, phase, target)]
    return found


def test_every_cell_ends_in_one_outcome_with_nothing_forbidden(matrices: Matrices) -> None:
    """No hang, no process on two nodes, memory intact where the process went on, every
    end with a reason -- in every cell of both matrices."""
    for bare, cells in zip((True, False), matrices, strict=True):
        assert {c.strategy for c in cells} == set(matrix_strategies())
        for c in cells:
            assert c.outcome in OUTCOMES
            assert c.problems == KNOWN_DEFECTS.get((bare, c.strategy, c.phase, c.target), ()), c
            if c.outcome == "ended":
                assert c.reason


def test_every_message_is_taken_once_or_returned_or_went_with_a_lost_process(
    matrices: Matrices,
) -> None:
    """Every cell exchanges messages; each was taken by its receiving program, returned to
    its sender, or was to or from the process reported lost -- and a process that ran to
    its end took every reply."""
    for bare, cells in zip((True, False), matrices, strict=True):
        for c in cells:
            assert c.sent >= 2, c
            if (bare, c.strategy, c.phase, c.target) in KNOWN_DEFECTS:
                assert c.taken + c.undeliverable + c.with_lost < c.sent
                continue
            assert c.taken + c.undeliverable + c.with_lost == c.sent, c
            if c.outcome != "ended":
                assert (c.sent, c.taken, c.undeliverable, c.with_lost) == (
                    2 * MESSAGES,
                    2 * MESSAGES,
                    0,
                    0,
                ), c


def test_the_partner_of_a_lost_process_is_told_of_its_reply(matrices: Matrices) -> None:
    """A process lost on the crashed source leaves its echo's reply on the way: the echo
    gets it back as undeliverable."""
    plain, _ = matrices
    for strategy in matrix_strategies():
        lost = cell(plain, strategy, "requested", "source")
        assert lost.outcome == "ended"
        assert lost.undeliverable == 1, lost


def test_a_source_crash_before_the_commit_loses_the_process_or_restarts_it(
    matrices: Matrices,
) -> None:
    """The process was on the source: without a checkpoint it is reported lost; with one
    it is restarted -- for every strategy."""
    plain, checkpointed = matrices
    for strategy in matrix_strategies():
        lost = cell(plain, strategy, "frozen", "source")
        assert lost.outcome == "ended" and "no checkpoint" in (lost.reason or "")
        assert cell(checkpointed, strategy, "frozen", "source").outcome == "restarted"


def test_a_destination_crash_before_the_transfer_rolls_back(matrices: Matrices) -> None:
    """Nothing of the process had moved yet: it runs on at the source."""
    plain, _ = matrices
    for strategy in ("eager", "precopy", "copy-on-reference", "flushing", "postcopy"):
        assert cell(plain, strategy, "frozen", "destination").outcome == "rolled-back"
        assert cell(plain, strategy, "requested", "destination").outcome == "rolled-back"


def test_a_destination_crash_after_the_resume_loses_the_process_or_restarts_it(
    matrices: Matrices,
) -> None:
    """The process ran there and died with it."""
    plain, checkpointed = matrices
    for strategy in matrix_strategies():
        assert cell(plain, strategy, "resumed", "destination").outcome == "ended"
        assert cell(checkpointed, strategy, "resumed", "destination").outcome == "restarted"


def test_a_lazy_process_whose_source_dies_ends_with_the_reason(matrices: Matrices) -> None:
    """Copy-on-reference and postcopy: the unfetched pages died with the source; the
    process ends when it faults on one, saying so -- or restarts from its checkpoint."""
    plain, checkpointed = matrices
    for strategy in ("copy-on-reference", "postcopy"):
        ended = cell(plain, strategy, "resumed", "source")
        assert ended.outcome == "ended" and "fetch failed" in (ended.reason or "")
        assert cell(checkpointed, strategy, "resumed", "source").outcome == "restarted"


def test_strategies_that_do_not_use_the_file_server_ignore_its_crash(matrices: Matrices) -> None:
    """Eager, precopy, copy-on-reference and postcopy complete whatever the file server does."""
    plain, _ = matrices
    for strategy in ("eager", "precopy", "copy-on-reference", "postcopy"):
        assert {
            c.outcome for c in plain if c.strategy == strategy and c.target == "file-server"
        } == {"completed"}


def test_a_file_server_crash_during_flushing_rolls_back(matrices: Matrices) -> None:
    """Sprite's flush cannot be written: the migration is undone, the process runs on."""
    plain, _ = matrices
    assert cell(plain, "flushing", "frozen", "file-server").outcome == "rolled-back"


def test_a_process_faulting_from_a_crashed_file_server_waits_for_it(matrices: Matrices) -> None:
    """Its disk keeps the pages: the process stalls until the file server is back, then
    completes at the destination."""
    plain, _ = matrices
    for strategy in ("eager-dirty", "flushing", "checkpoint-restart"):
        assert cell(plain, strategy, "resumed", "file-server").outcome == "completed"


def test_the_documented_matrix_is_current(matrices: Matrices) -> None:
    """docs/fault-tolerance.md shows these very outcomes (`python -m rhodos.faults.matrix`)."""
    page = DOC.read_text(encoding="utf-8")
    shown = page[page.index(BEGIN) : page.index(END) + len(END)]
    assert shown == render(*matrices)

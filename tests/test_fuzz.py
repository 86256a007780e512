"""The migration fuzzer, a short run: hostile migrations at the edges of timing break nothing.

Each case boots a cluster of communicating oracle processes on a built-in or a legal
extreme profile, attacks them with migration requests (concurrent, swaps, chains, back
to the source, same-instant duplicates, requests timed against exits and internal
events) and checks every invariant. ``make fuzz`` runs thousands of them; a failing
case prints the command that replays it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rhodos.migration_manager import register, unregister
from rhodos.testing.broken import DropsThePages, SpinsAtOneInstant
from rhodos.testing.fuzz import EXTREME, FuzzCase, main, run_case, run_cases

#: Seeds of the short run: a few dozen small cases, every profile kind among them.
SEEDS = range(32)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_fuzz_case_finds_nothing_wrong(seed: int) -> None:
    """A small fuzz case ends with every invariant holding (else: the replay command)."""
    result = run_case(FuzzCase(seed, size="small"), wall_s=30.0)
    assert result.ok, result.report(verbose=True)


def test_the_short_run_covers_built_in_and_extreme_profiles() -> None:
    """The seeds above draw both kinds of profile, and requests get asked."""
    profiles = {FuzzCase(seed, size="small").concrete_profile() for seed in SEEDS}
    assert profiles & set(EXTREME) and profiles - set(EXTREME)


def test_a_case_replays_exactly() -> None:
    """The same case twice gives the same requests, records and simulated end."""
    first, second = (run_case(FuzzCase(5, size="small")) for _ in range(2))
    assert first.requests > 0
    assert (first.requests, first.migrations, first.refusals, first.simulated_s) == (
        second.requests,
        second.migrations,
        second.refusals,
        second.simulated_s,
    )
    assert first.last_requests == second.last_requests


@pytest.fixture
def broken() -> Iterator[None]:
    """The strategies broken on purpose, registered for one test."""
    register(DropsThePages)
    register(SpinsAtOneInstant)
    yield
    unregister(DropsThePages.name)
    unregister(SpinsAtOneInstant.name)


@pytest.mark.usefixtures("broken")
def test_the_fuzzer_finds_a_strategy_that_loses_pages() -> None:
    """A strategy that loses pages fails its cases, with a replay command."""
    found = run_cases(
        [FuzzCase(seed, "drops-the-pages", "sparc-ethernet", "small") for seed in range(3)]
    )
    assert not found.ok
    assert any("lost" in p for f in found.failures for p in f.problems)
    assert "--strategy drops-the-pages" in found.failures[0].case.replay()


@pytest.mark.usefixtures("broken")
def test_the_fuzzer_turns_a_hang_into_a_failure() -> None:
    """A simulation looping at one simulated instant ends as a hang within its budget."""
    result = run_case(FuzzCase(0, "spins-at-one-instant", "zero-cost", "small"), wall_s=2.0)
    assert result.outcome == "hang"
    assert result.wall_s < 15.0
    assert "replay: python -m rhodos.testing.fuzz --seed 0" in result.report()


def test_the_command_line_names_what_is_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown strategy or profile is one clear line and exit status 2."""
    for args in (["--strategy", "nope"], ["--profile", "nowhere"], ["--count", "0"]):
        with pytest.raises(SystemExit) as stopped:
            main(args)
        assert stopped.value.code == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err

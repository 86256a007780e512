"""The migration fuzzer: hostile patterns at the edges of timing, every invariant checked.

A case is a seed, the strategies its requests draw from and a machine profile. It boots
a cluster, spawns communicating oracle processes on it
(:func:`~rhodos.testing.population.populate`) and attacks them with migration requests
(:class:`~rhodos.testing.hostile.Attack`) until a simulated-time horizon; then it runs to
completion and checks every invariant of DESIGN.md through the
:class:`~rhodos.testing.Harness` -- one node per process, every message exactly once and
in order, every page's last version, the residual promises, freeze <= latency <= total,
every migration ended with a record and every process finished -- plus: no refusal
other than those a request may meet (:data:`EXPECTED_REFUSALS`), no exception, and no
hang (a wall-clock budget turns a simulation looping at one instant into a failure).

Profiles are drawn from the built-in ones and from legal extremes
(:mod:`rhodos.testing.profiles`): every CPU cost 0, every cost and latency 0, a network
latency of 0.5 to 1 s (the longest a profile may have). A failure names the case and
prints the command that replays it::

    python -m rhodos.testing.fuzz --count 5000            # what `make fuzz` runs
    python -m rhodos.testing.fuzz --seed 1234 --strategy mixed --profile zero-cost -v

Run it from the project's root with the project's interpreter (``.venv/bin/python``).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from rhodos.kernel import builtin_profiles
from rhodos.migration_manager import registered
from rhodos.system import boot
from rhodos.testing.checks import REFUSALS_IN_FLIGHT
from rhodos.testing.harness import Hang, Harness
from rhodos.testing.hostile import Attack
from rhodos.testing.population import populate
from rhodos.testing.profiles import fuzz_profile

__all__ = [
    "BUILTIN",
    "EXPECTED_REFUSALS",
    "EXTREME",
    "PROFILE_SETS",
    "CaseResult",
    "FuzzCase",
    "Summary",
    "main",
    "run_case",
    "run_cases",
]

#: The built-in profiles a case may run on.
BUILTIN = ("sun3-ethernet", "sparc-ethernet", "modern-10gbe", "perq-ethernet")
#: The legal extreme profiles a case may run on.
EXTREME = (
    "zero-cpu",
    "zero-cpu:sun3-ethernet",
    "zero-cost",
    "zero-cost:modern-10gbe",
    "slow-latency@0.5",
    "slow-latency@0.75",
    "slow-latency@1",
)
#: Named sets of profiles (``--profile all`` draws from both kinds).
PROFILE_SETS = {"all": BUILTIN + EXTREME, "builtin": BUILTIN, "extreme": EXTREME}
#: Refusals a request may meet in a case: those of a request at a random moment, and a
#: destination too full for the process (processes pile up on small machines).
EXPECTED_REFUSALS = (*REFUSALS_IN_FLIGHT, "not enough memory")
#: Case sizes: ``small`` for the test suite, ``full`` for ``make fuzz``.
SIZES = ("small", "full")

COMMAND = "python -m rhodos.testing.fuzz"


def _strategies() -> list[str]:
    """The strategies a mixed case draws from: every registered one."""
    return sorted(registered())


@attrs.frozen
class FuzzCase:
    """One case: everything in it follows from these four values.

    ``strategy`` is a registered name or ``mixed`` (the case draws one strategy, or
    several, from every registered one); ``profile`` is a profile spec or the name of a
    set in :data:`PROFILE_SETS` to draw it from.
    """

    seed: int
    strategy: str = "mixed"
    profile: str = "all"
    size: str = "full"

    def __attrs_post_init__(self) -> None:
        if self.strategy != "mixed" and self.strategy not in registered():
            known = ", ".join(["mixed", *_strategies()])
            raise ValueError(f"unknown strategy {self.strategy!r}: use one of {known}")
        if self.profile not in PROFILE_SETS:
            fuzz_profile(self.profile)  # a spec: raises a clear error when it names nothing
        if self.size not in SIZES:
            raise ValueError(f"unknown size {self.size!r}: use one of {', '.join(SIZES)}")

    def concrete_profile(self) -> str:
        """The profile spec this case runs on (drawn from the set when a set is named)."""
        if self.profile not in PROFILE_SETS:
            return self.profile
        choices = PROFILE_SETS[self.profile]
        return choices[int(np.random.default_rng([self.seed, 1]).integers(0, len(choices)))]

    def strategies(self) -> list[str]:
        """The strategies the case's requests draw from."""
        if self.strategy != "mixed":
            return [self.strategy]
        every = _strategies()
        rng = np.random.default_rng([self.seed, 2])
        if rng.random() < 0.5:
            return [every[int(rng.integers(0, len(every)))]]
        return every

    def replay(self) -> str:
        """The command that replays exactly this case."""
        return (
            f"{COMMAND} --seed {self.seed} --strategy {self.strategy} "
            f"--profile {self.concrete_profile()} --size {self.size} -v"
        )


@attrs.frozen
class CaseResult:
    """What one case did, and everything it found wrong."""

    case: FuzzCase
    profile: str
    #: ``ok``, ``violation``, ``hang`` or ``crash``.
    outcome: str
    problems: tuple[str, ...] = ()
    migrations: int = 0
    refusals: int = 0
    requests: int = 0
    simulated_s: float = 0.0
    wall_s: float = 0.0
    #: The last requests asked: (time, pattern, pid, from, to, strategy).
    last_requests: tuple[tuple[Any, ...], ...] = ()

    @property
    def ok(self) -> bool:
        """Nothing was found wrong."""
        return self.outcome == "ok"

    def report(self, *, verbose: bool = False) -> str:
        """A few lines naming the case, what went wrong and how to replay it."""
        lines = [
            f"seed {self.case.seed} ({self.profile}, strategies "
            f"{','.join(self.case.strategies())}): {self.outcome.upper()} after "
            f"{self.requests} requests, simulated t={self.simulated_s:.6f}",
        ]
        shown = self.problems if verbose else self.problems[:5]
        lines += [f"  - {problem}" for problem in shown]
        if len(shown) < len(self.problems):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more")
        if verbose:
            lines += [f"  request {r}" for r in self.last_requests]
        lines.append(f"  replay: {self.case.replay()}")
        return "\n".join(lines)


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` after ``seconds`` of wall-clock time (main thread, POSIX only).

    The harness's own watchdog catches a simulation looping at one instant between two
    steps; this one also catches a single step that never returns.
    """
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def ring(signum: int, frame: Any) -> None:
        raise Hang(f"the case ran past its wall-clock budget of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(
    case: FuzzCase,
    *,
    wall_s: float = 60.0,
    observe: Callable[[Harness], None] | None = None,
) -> CaseResult:
    """Run one case and check every invariant; never raises for what the case finds.

    ``observe`` is handed the harness at the end, whatever the outcome (to look closer
    at a failing case).
    """
    began = time.monotonic()
    spec = case.concrete_profile()
    profile = fuzz_profile(spec)
    small = case.size == "small"
    rng = np.random.default_rng([case.seed, 3])
    latency = profile.network_latency_s
    h: Harness | None = None
    attack: Attack | None = None
    problems: list[str] = []
    outcome = "ok"
    try:
        with _alarm(wall_s + 10.0):
            h = Harness(boot(nodes=int(rng.integers(3, 6)), seed=case.seed, profile=profile))
            h.watch_the_clock(wall_s)
            population = populate(h, rng, small=small)
            attack = Attack(
                h,
                rng,
                case.strategies(),
                population,
                horizon=(0.6 if small else 1.5) + 6 * latency,
                hook_rate=float(rng.choice([0.0, 0.05, 0.2, 0.5])),
            )
            attack.start()
            problems = h.finish(limit_s=60.0 + 300.0 * latency)
            problems += [
                f"{r.strategy} {r.source}->{r.destination} of process {r.pid} refused: {r.refused}"
                for r in h.records
                if r.refused is not None and not any(x in r.refused for x in EXPECTED_REFUSALS)
            ]
            outcome = "violation" if problems else "ok"
    except Hang as hang:
        outcome, problems = "hang", [str(hang)]
    except Exception as error:  # the run itself broke: that is what a fuzzer is for
        outcome = "crash"
        problems = [f"{type(error).__name__}: {error}", *_traceback_tail(error)]
    if observe is not None and h is not None:
        observe(h)
    records = h.records if h is not None else []
    return CaseResult(
        case=case,
        profile=spec,
        outcome=outcome,
        problems=tuple(problems),
        migrations=sum(1 for r in records if r.refused is None),
        refusals=sum(1 for r in records if r.refused is not None),
        requests=len(attack.requests) if attack is not None else 0,
        simulated_s=float(h.env.now) if h is not None else 0.0,
        wall_s=time.monotonic() - began,
        last_requests=tuple(attack.requests[-12:]) if attack is not None else (),
    )


def _traceback_tail(error: BaseException) -> list[str]:
    """Where the error was raised: simpy raises a failed process's error again from its
    loop, with the original as the cause, so follow the causes to the first one."""
    while error.__cause__ is not None:
        error = error.__cause__
    frames = traceback.extract_tb(error.__traceback__)[-4:]
    return [f"at {f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in frames]


@attrs.frozen
class Summary:
    """What a run of many cases found."""

    cases: int
    outcomes: dict[str, int]
    migrations: int
    refusals: int
    requests: int
    wall_s: float
    failures: tuple[CaseResult, ...]

    @property
    def ok(self) -> bool:
        """Every case passed."""
        return not self.failures

    def report(self) -> str:
        """One paragraph: the counts, and the replay command of every failure."""
        counts = ", ".join(f"{self.outcomes.get(k, 0)} {k}" for k in ("violation", "hang", "crash"))
        lines = [
            f"{self.cases} cases in {self.wall_s:.1f} s: {self.outcomes.get('ok', 0)} ok, "
            f"{counts}; {self.migrations} migrations, {self.refusals} refusals, "
            f"{self.requests} requests"
        ]
        lines += [f"FAILED: {f.case.replay()}" for f in self.failures]
        return "\n".join(lines)


def run_cases(
    cases: Sequence[FuzzCase],
    *,
    wall_s: float = 60.0,
    echo: Callable[[str], None] | None = None,
    verbose: bool = False,
    every: int = 100,
) -> Summary:
    """Run ``cases`` one after the other; ``echo`` gets each failure's report and progress."""
    began = time.monotonic()
    outcomes: dict[str, int] = {}
    failures: list[CaseResult] = []
    migrations = refusals = requests = 0
    for done, case in enumerate(cases, start=1):
        result = run_case(case, wall_s=wall_s)
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        migrations += result.migrations
        refusals += result.refusals
        requests += result.requests
        if not result.ok:
            failures.append(result)
        if echo is not None:
            if not result.ok or verbose:
                echo(result.report(verbose=verbose))
            if every and done % every == 0:
                echo(
                    f"[{done}/{len(cases)}] {time.monotonic() - began:.0f} s, "
                    f"{len(failures)} failed so far"
                )
    return Summary(
        cases=len(cases),
        outcomes=outcomes,
        migrations=migrations,
        refusals=refusals,
        requests=requests,
        wall_s=time.monotonic() - began,
        failures=tuple(failures),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Fuzz the migration mechanism: hostile migration patterns at the edges "
        "of timing, every invariant checked. Exit status 1 when a case fails.",
    )
    parser.add_argument("--count", type=int, default=200, help="cases to run (default 200)")
    parser.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--seed", type=int, help="run this one case only")
    parser.add_argument(
        "--strategy",
        default="mixed",
        help="a registered strategy, or 'mixed' (each case draws one or all; default)",
    )
    parser.add_argument(
        "--profile",
        default="all",
        help="'all' (default), 'builtin', 'extreme', a built-in profile name, or an "
        "extreme spec: zero-cpu, zero-cost, slow-latency@SECONDS, optionally :BASE",
    )
    parser.add_argument("--size", default="full", choices=SIZES, help="case size (default full)")
    parser.add_argument(
        "--wall", type=float, default=60.0, help="wall-clock budget per case, s (default 60)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="report every case fully")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: run the cases, print failures as they come and a summary."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.count < 1 or args.start < 0 or (args.seed is not None and args.seed < 0):
        parser.error("--count must be >= 1, --start and --seed >= 0")
    if args.wall <= 0:
        parser.error("--wall must be > 0")
    seeds = [args.seed] if args.seed is not None else range(args.start, args.start + args.count)
    try:
        cases = [FuzzCase(s, args.strategy, args.profile, args.size) for s in seeds]
    except Exception as error:
        parser.error(str(error))
    print(
        f"fuzzing {len(cases)} case(s): strategies {args.strategy}, profiles {args.profile}, "
        f"size {args.size}; built-in profiles known: {', '.join(sorted(builtin_profiles()))}",
        flush=True,
    )
    summary = run_cases(
        cases,
        wall_s=args.wall,
        echo=lambda line: print(line, flush=True),
        verbose=args.verbose,
    )
    print(summary.report(), flush=True)
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())

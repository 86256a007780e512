"""Real programs under every strategy: the tables of ``experiments/real-programs``.

Three studies on the shipped page traces (``rhodos/workload/traces/``), each a function
returning rows, and :func:`report` writing them all as ``docs/real-programs.md``
(``python -m rhodos.experiment.realprograms [OUT.md]``):

* :func:`strategy_rows`: every strategy on every trace that fits the machine, migrated
  half-way through the program's run: latency, freeze, bytes, remote faults, slowdown;
  the winner by each objective beside the strategy map's prediction for the trace's own
  size, dirty rate and touched fraction (:func:`~rhodos.migration_manager.strategies.auto.choose`);
* :func:`fetched_rows`: copy-on-reference's bytes fetched before the program exits, as
  a fraction of what the program had allocated (mapped), against Zayas's "one-quarter
  to one-half";
* :func:`precopy_rows`: precopy's pages per round against the synthetic model's
  ``W (1 - exp(-D t / W))`` with the trace's own ``W`` (pages ever written) and ``D``
  (page writes per second on the profile), ``t`` each round's measured duration.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from rhodos.experiment.migration import Scenario, baseline_completion, run_migration
from rhodos.kernel import MachineProfile, load_profile
from rhodos.migration_manager import MigrationRecord
from rhodos.migration_manager.map import CANDIDATES, StrategyMap
from rhodos.migration_manager.strategies.auto import MAP_PATH, choose
from rhodos.migration_manager.strategies.precopy import Precopy
from rhodos.workload.pagetrace import TraceFigures, open_trace, shipped_traces, trace_figures

__all__ = [
    "AT",
    "PROFILES",
    "ProgramRun",
    "fetched_rows",
    "precopy_rows",
    "program_run",
    "report",
    "strategy_rows",
]

#: The classic and the modern machine.
PROFILES = ("sparc-ethernet", "modern-10gbe")
#: Where in its run (fraction of its CPU time) a program is migrated.
AT = 0.5
#: Precopy's defaults (rhodos.migration_manager.strategies.precopy.Precopy).
MAX_ROUNDS, STOP_PAGES = Precopy().max_rounds, Precopy().stop_pages
#: The objectives compared with the map: record metric -> auto's objective.
OBJECTIVES = {"slowdown": "slowdown", "freeze_s": "freeze", "bytes_total": "bytes"}


@attrs.frozen(eq=False)
class ProgramRun:
    """One trace on one profile: its figures, and every strategy's record (None: no fit)."""

    trace: str
    profile: MachineProfile
    figures: TraceFigures
    migrate_at: float
    touched_after: float
    records: tuple[MigrationRecord, ...] | None

    @property
    def fits(self) -> bool:
        """Whether the program's pages fit one node's memory."""
        return self.records is not None

    def winner(self, metric: str) -> str | None:
        """The strategy with the lowest ``metric`` among those that completed."""
        done = [r for r in self.records or () if r.ok and getattr(r, metric) is not None]
        if not done:
            return None
        return min(done, key=lambda r: (getattr(r, metric), CANDIDATES.index(r.strategy))).strategy

    def predicted(self, metric: str) -> str:
        """What the strategy map says wins for this size, dirty rate and touched fraction."""
        return choose(
            self.figures.memory_bytes,
            self.figures.dirty_rate,
            self.touched_after,
            self.profile.network_bandwidth_bps,
            OBJECTIVES[metric],
        )

    def outside_map(self) -> list[str]:
        """Which of the map's axes this run lies beyond (its prediction is the edge's)."""
        grid = StrategyMap.from_json(MAP_PATH.read_text()).grid
        out = []
        if not min(grid.memory_bytes) <= self.figures.memory_bytes <= max(grid.memory_bytes):
            out.append("size")
        if self.figures.dirty_rate > max(grid.dirty_rates):
            out.append("dirty rate")
        return out


def _figures(trace: str, profile: MachineProfile) -> TraceFigures:
    return trace_figures(open_trace(trace), profile.page_size_bytes, profile.instructions_per_s)


def program_run(trace: str, profile: str | MachineProfile, at: float = AT) -> ProgramRun:
    """Every candidate strategy on ``trace`` migrated at ``at`` of its run on ``profile``."""
    machine = profile if isinstance(profile, MachineProfile) else load_profile(profile)
    figures = _figures(trace, machine)
    migrate_at = at * figures.cpu_seconds
    touched_after = figures.touched_between(migrate_at) / figures.pages
    if figures.pages > machine.memory_bytes // machine.page_size_bytes:
        return ProgramRun(trace, machine, figures, migrate_at, touched_after, None)
    scenario = Scenario(profile=machine, workload=f"trace:{trace}", migrate_at=migrate_at)
    baseline = baseline_completion(scenario)
    records = tuple(run_migration(scenario, s, baseline=baseline) for s in CANDIDATES)
    return ProgramRun(trace, machine, figures, migrate_at, touched_after, records)


def strategy_rows(
    profiles: Sequence[str] = PROFILES, traces: Sequence[str] | None = None
) -> list[ProgramRun]:
    """:func:`program_run` for every trace (default: the shipped ones) on every profile."""
    names = list(traces) if traces is not None else list(shipped_traces())
    return [program_run(t, p) for p in profiles for t in names]


def fetched_rows(
    profile: str = "modern-10gbe",
    at: Sequence[float] = (0.1, 0.5),
    traces: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Copy-on-reference's fetched bytes over the program's allocated bytes, per migration point.

    ``fetched`` is the bytes of pages the destination fetched from the source (the
    record's ``pages_bytes``) until the program exited; ``allocated`` what the program
    had mapped (the trace's metadata); ``space`` the replayed address space (the pages
    it touched in its whole run).
    """
    machine = load_profile(profile)
    rows = []
    for trace in traces if traces is not None else list(shipped_traces()):
        figures = _figures(trace, machine)
        for fraction in at:
            scenario = Scenario(
                profile=machine,
                workload=f"trace:{trace}",
                migrate_at=fraction * figures.cpu_seconds,
            )
            record = run_migration(scenario, "copy-on-reference", baseline=math.nan)
            allocated = figures.allocated_bytes
            rows.append(
                {
                    "trace": trace,
                    "at": fraction,
                    "fetched": record.pages_bytes,
                    "space": figures.memory_bytes,
                    "allocated": allocated,
                    "of_allocated": None if not allocated else record.pages_bytes / allocated,
                    "of_space": record.pages_bytes / figures.memory_bytes,
                }
            )
    return rows


def precopy_rows(
    profile: str, traces: Sequence[str] | None = None, at: float = AT
) -> list[dict[str, Any]]:
    """Precopy's rounds on each trace against ``W (1 - exp(-D t / W))``.

    The program loops (``loops``) so that it outlives ``MAX_ROUNDS + 2`` full copies of
    its space: the rounds see a program that keeps running, as V's and Xen's did (each
    pass starts the program again, start-up included). Round ``i``'s prediction uses the
    measured duration of round ``i - 1``; precopy runs with its defaults (at most
    :data:`MAX_ROUNDS` live rounds, stopping at :data:`STOP_PAGES` pages dirtied).
    """
    machine = load_profile(profile)
    rows = []
    for trace in traces if traces is not None else list(shipped_traces()):
        figures = _figures(trace, machine)
        if figures.pages > machine.memory_bytes // machine.page_size_bytes:
            continue
        copy_s = figures.memory_bytes * 8 / machine.network_bandwidth_bps
        loops = 1 + math.ceil((MAX_ROUNDS + 2) * copy_s / figures.cpu_seconds)
        scenario = Scenario(
            profile=machine,
            workload=f"trace:{trace}",
            migrate_at=at * figures.cpu_seconds,
            loops=loops,
        )
        record = run_migration(scenario, "precopy", baseline=math.nan)
        marks = dict(record.phases)
        starts = [marks["page-map-sent"]] + [
            marks[f"round-{i}"] for i in range(1, 64) if f"round-{i}" in marks
        ]
        durations = [b - a for a, b in itertools.pairwise(starts)]
        w, d = figures.written_pages, figures.dirty_rate
        predicted = [round(w * (1 - math.exp(-d * t / w))) if w else 0 for t in durations]
        rows.append(
            {
                "trace": trace,
                "loops": loops,
                "W": w,
                "D": d,
                "rounds": list(record.rounds),
                "durations": durations,
                "predicted": predicted,
                "converged": _converged(record.rounds),
                "freeze_s": record.freeze_s,
            }
        )
    return rows


def _converged(rounds: Sequence[int]) -> str:
    """Whether precopy stopped because few pages were left (it converged), or ran out of
    rounds with the dirtied pages stalled or still shrinking.

    ``rounds`` are the pages of each live round then of the frozen copy; precopy stops
    early exactly when a live round left at most :data:`STOP_PAGES` dirtied pages.
    """
    live = list(rounds[:-1])
    if len(live) < MAX_ROUNDS:
        return f"yes, in {len(live)} rounds"
    if live[-1] >= 0.9 * live[-2]:
        return "no: stalled"
    return "no: still shrinking"


# -- the report -------------------------------------------------------------------------
def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:,.1f}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:.2f}"


def _programs_table(runs: Sequence[ProgramRun]) -> list[str]:
    lines = [
        "| profile | trace | address space MiB | allocated MiB | CPU s | dirty pages/s "
        "| touched after migration | fits a node |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        f = run.figures
        lines.append(
            f"| {run.profile.name} | `{run.trace}` | {_mb(f.memory_bytes)} | "
            f"{_mb(f.allocated_bytes)} | {f.cpu_seconds:.4g} | {f.dirty_rate:,.0f} | "
            f"{run.touched_after:.0%} | {'yes' if run.fits else 'no'} |"
        )
    return lines


def _metrics_table(runs: Sequence[ProgramRun]) -> list[str]:
    lines = [
        "| profile | trace | strategy | latency ms | freeze ms | MiB moved | remote faults "
        "| slowdown |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        if run.records is None:
            lines.append(f"| {run.profile.name} | `{run.trace}` | (does not fit) | | | | | |")
            continue
        for r in run.records:
            if not r.ok:
                lines.append(
                    f"| {run.profile.name} | `{run.trace}` | {r.strategy} | refused: "
                    f"{r.refused} | | | | |"
                )
                continue
            slowdown = "-" if r.slowdown is None else f"{r.slowdown:.3f}"
            lines.append(
                f"| {run.profile.name} | `{run.trace}` | {r.strategy} | {_ms(r.latency_s)} | "
                f"{_ms(r.freeze_s)} | {_mb(r.bytes_total)} | {r.remote_faults:,} | {slowdown} |"
            )
    return lines


def _winners_table(runs: Sequence[ProgramRun]) -> list[str]:
    lines = [
        "| profile | trace | objective | winner (measured) | map's prediction | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        if not run.fits:
            continue
        outside = run.outside_map()
        for metric, objective in OBJECTIVES.items():
            won, said = run.winner(metric), run.predicted(metric)
            verdict = "agrees" if won == said else "**the synthetic model is wrong here**"
            if outside:
                verdict += f" (beyond the map's {' and '.join(outside)}: its edge predicts)"
            lines.append(
                f"| {run.profile.name} | `{run.trace}` | {objective} | {won} | {said} | {verdict} |"
            )
    return lines


def _fetched_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| trace | migrated at | fetched MiB | address space MiB | allocated MiB "
        "| fetched / allocated | fetched / address space |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        share = "-" if row["of_allocated"] is None else f"{row['of_allocated']:.0%}"
        lines.append(
            f"| `{row['trace']}` | {row['at']:.0%} of its run | {_mb(row['fetched'])} | "
            f"{_mb(row['space'])} | {_mb(row['allocated'])} | {share} | {row['of_space']:.0%} |"
        )
    return lines


def _fetched_summary(rows: Sequence[dict[str, Any]]) -> str:
    """The mean and range of fetched / allocated at each migration point, against 25-50 %."""
    parts = []
    for at in sorted({row["at"] for row in rows}):
        shares = [row["of_allocated"] for row in rows if row["at"] == at and row["of_allocated"]]
        if not shares:
            continue
        mean = sum(shares) / len(shares)
        inside = sum(0.25 <= x <= 0.5 for x in shares)
        parts.append(
            f"migrated {at:.0%} of the way through, the programs fetch {mean:.0%} of their "
            f"allocated memory on average ({min(shares):.0%} to {max(shares):.0%}; "
            f"{inside} of {len(shares)} within Zayas's one-quarter to one-half)"
        )
    return "In short: " + "; ".join(parts) + "." if parts else ""


def _precopy_table(profile: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        f"**{profile}**",
        "",
        "| trace | W pages | D pages/s | pages per round (measured) | W(1-e^(-Dt/W)) per round "
        "| round durations ms | converged | freeze ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        measured = ", ".join(f"{n:,}" for n in row["rounds"])
        predicted = ", ".join(["-", *(f"{n:,}" for n in row["predicted"])])
        durations = ", ".join(f"{t * 1e3:,.1f}" for t in row["durations"])
        lines.append(
            f"| `{row['trace']}` (x{row['loops']}) | {row['W']:,} | {row['D']:,.0f} | {measured} "
            f"| {predicted} | {durations} | {row['converged']} | {_ms(row['freeze_s'])} |"
        )
    return lines


def report(out: str | Path = "docs/real-programs.md") -> Path:
    """Run the three studies and write them, with the trace pictures, as markdown."""
    runs = strategy_rows()
    fetched = fetched_rows()
    precopy = {p: precopy_rows(p) for p in PROFILES}
    text = (Path(__file__).with_name("realprograms.md").read_text()).format(
        programs="\n".join(_programs_table(runs)),
        metrics="\n".join(_metrics_table(runs)),
        winners="\n".join(_winners_table(runs)),
        fetched="\n".join(_fetched_table(fetched)),
        fetched_summary=_fetched_summary(fetched),
        precopy="\n\n".join("\n".join(_precopy_table(p, rows)) for p, rows in precopy.items()),
        pictures="\n".join(f"![{name}](images/trace-{name}.png)" for name in shipped_traces()),
    )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


if __name__ == "__main__":
    print(f"wrote {report(*sys.argv[1:2])}")

"""``rhodos migrate`` and ``rhodos compare``: one migration, or every strategy, measured.

Both take the same options, the fields of :class:`~rhodos.experiment.Scenario` (the keys
a sweep config takes), plus ``--workload-param`` for the workload's own parameters. A
refused migration is shown as refused, with what to change: ``migrate`` exits with
:data:`REFUSED` (3), ``compare`` marks the row and counts the refusals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from rhodos.cli.application import (
    ProfileOption,
    TraceOption,
    app,
    clear_errors,
    console,
    err_console,
    progress_bar,
    run_observer,
    writable_file,
    write_output,
)
from rhodos.cli.tables import (
    MISSING,
    TABLE_METRICS,
    Column,
    MetricOption,
    chosen_metrics,
    fitted,
    metric_columns,
    metric_unit,
    short_number,
)
from rhodos.migration_manager.metrics import COMPARED, metric
from rhodos.units import format_size

if TYPE_CHECKING:
    from rhodos.experiment import Scenario
    from rhodos.migration_manager import MigrationRecord

__all__ = ["REFUSED", "VIOLATED", "compare_command", "migrate_command"]

#: The exit status of ``rhodos migrate`` when the migration was refused (2 is bad input).
REFUSED = 3
#: The exit status of ``rhodos compare`` when a run broke an invariant.
VIOLATED = 4


def _key_values(option: str, values: list[str] | None, example: str) -> dict[str, Any]:
    """``key=value`` items as a dict, each value read as JSON when it is (``3``, ``"x"``)."""
    params: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{option} takes key=value (e.g. {example}), got {item!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


MemoryOption = Annotated[
    str, typer.Option("--memory", help="Address space of the migrated process: 100KiB, 4MiB, 1GiB.")
]
DirtyOption = Annotated[
    float, typer.Option("--dirty-rate", help="Pages per second the process writes.")
]
TouchOption = Annotated[
    float, typer.Option("--touch-fraction", help="Fraction of its pages the process references.")
]
CpuOption = Annotated[
    float | None,
    typer.Option(
        "--cpu-seconds",
        help="CPU time the process computes for (default: 2 s, longer when its address "
        "space takes long to cross the network).",
    ),
]
WorkloadOption = Annotated[
    str, typer.Option("--workload", help="Workload whose first process is migrated.")
]
WorkloadParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--workload-param",
        help="A parameter of the workload, key=value (see `rhodos workloads`): rounds=500.",
    ),
]
NodesOption = Annotated[
    int, typer.Option("--nodes", help="Compute nodes (the process moves 0 -> 1).")
]
NodeMemoryOption = Annotated[
    str | None,
    typer.Option("--node-memory", help="Memory of each node (default: the profile's): 64MiB."),
]
TopologyOption = Annotated[
    str | None, typer.Option("--topology", help="shared or star (default: the profile's).")
]
HomeCallsOption = Annotated[
    float,
    typer.Option("--home-calls-per-s", help="Calls per second the process makes to its home node."),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Root seed.")]
AtOption = Annotated[float, typer.Option("--at", help="Simulated time of the migration request.")]
LoopsOption = Annotated[
    int, typer.Option("--loops", help="Runs through a trace:NAME workload's trace (0: for ever).")
]
OpenFilesOption = Annotated[
    int,
    typer.Option(
        "--open-files",
        help="Files the process opens before it computes (memory-writer, cpu-bound); "
        "the File Manager moves them with it.",
    ),
]
DirtyFileBlocksOption = Annotated[
    int,
    typer.Option(
        "--dirty-file-blocks",
        help="Blocks it writes into them, dirty in its node's cache when it migrates.",
    ),
]


def _scenario(options: Mapping[str, Any]) -> Scenario:
    """The scenario the shared options of ``migrate`` and ``compare`` describe (the
    command's ``ctx.params``: each option by its parameter's name)."""
    from rhodos.experiment import Scenario

    return Scenario(
        profile=options["profile"],
        memory_bytes=options["memory"],
        dirty_rate=options["dirty_rate"],
        touch_fraction=options["touch_fraction"],
        cpu_seconds=options["cpu_seconds"],
        workload=options["workload"],
        workload_params=_key_values("--workload-param", options["workload_param"], "rounds=500"),
        nodes=options["nodes"],
        node_memory_bytes=options["node_memory"],
        topology=options["topology"],
        home_calls_per_s=options["home_calls"],
        seed=options["seed"],
        migrate_at=options["at"],
        loops=options["loops"],
        open_files=options["open_files"],
        dirty_file_blocks=options["dirty_file_blocks"],
    )


def _describe(scenario: Scenario) -> str:
    """One line: the workload, its process and the machines."""
    figures = scenario.trace_figures()
    if figures is not None:
        knobs = (
            f"{format_size(figures.memory_bytes)}, dirty {figures.dirty_rate:.4g} pages/s, "
            f"{scenario.loops} loop{'s' if scenario.loops != 1 else ''}"
        )
        return (
            f"{scenario.workload} ({knobs}) on {scenario.nodes} {scenario.profile.name} "
            f"nodes, seed {scenario.seed}"
        )
    knobs = f"{format_size(scenario.memory_bytes)}"
    if scenario.workload in ("memory-writer", "cpu-bound"):
        knobs += f", {scenario.process_cpu_seconds:g} CPU-s"
    if scenario.workload == "memory-writer":
        knobs += f", dirty {scenario.dirty_rate:g} pages/s"
    knobs += f", touching {scenario.touch_fraction:.0%}"
    if scenario.has_files:
        knobs += f", {scenario.open_files} open files, {scenario.dirty_file_blocks} dirty blocks"
    extra = "".join(f", {k}={v}" for k, v in scenario.workload_params.items())
    return (
        f"{scenario.workload} ({knobs}{extra}) on {scenario.nodes} {scenario.profile.name} "
        f"nodes, seed {scenario.seed}"
    )


def _not_baseline(label: str, _cluster: Any) -> bool:
    """Traces show the migrated runs, not the unmigrated baseline (the loggers see both)."""
    return label != "baseline"


def _did_not(records: list[MigrationRecord]) -> str:
    """``refused``, or ``refused or failed`` when a migration failed after it was accepted."""
    return "refused or failed" if any(r.failed for r in records) else "refused"


def _refusals(scenario: Scenario, records: list[MigrationRecord]) -> None:
    """Say which migrations were refused, why, and what would let them happen (stderr)."""
    from rhodos.experiment import refusal_advice

    refused = [r for r in records if not r.ok]
    reasons: dict[tuple[str, str], list[MigrationRecord]] = {}
    for record in refused:
        key = ("refused", record.refused) if record.refused else ("failed", str(record.failed))
        reasons.setdefault(key, []).append(record)
    for (outcome, reason), which in reasons.items():
        who = "" if len(records) == 1 else f"{', '.join(r.strategy for r in which)}: "
        err_console.print(
            f"[bold red]{outcome}:[/] {escape(who + reason)}", highlight=False, soft_wrap=True
        )
        advice = refusal_advice(scenario, which[0]) if outcome == "refused" else ""
        if advice:
            err_console.print(f"  {escape(advice)}", highlight=False, soft_wrap=True)


@app.command(
    "migrate",
    epilog="Exit status: 0 the process migrated; 2 bad input; 3 refused or failed.",
)
@clear_errors
def migrate_command(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="See `rhodos strategies`.")],
    profile: ProfileOption = "sun3-ethernet",
    memory: MemoryOption = "1MiB",
    dirty_rate: DirtyOption = 20.0,
    touch_fraction: TouchOption = 0.5,
    cpu_seconds: CpuOption = None,
    workload: WorkloadOption = "memory-writer",
    workload_param: WorkloadParamOption = None,
    nodes: NodesOption = 2,
    node_memory: NodeMemoryOption = None,
    topology: TopologyOption = None,
    home_calls: HomeCallsOption = 0.0,
    seed: SeedOption = 0,
    at: AtOption = 0.5,
    loops: LoopsOption = 1,
    open_files: OpenFilesOption = 0,
    dirty_file_blocks: DirtyFileBlocksOption = 0,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Strategy parameter key=value.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    trace: TraceOption = None,
    timeline: Annotated[
        Path | None,
        typer.Option(
            "--timeline",
            help="Draw the migration as a message-sequence chart (.png, .svg or .pdf), "
            "its data beside it (.json).",
            dir_okay=False,
            metavar="FILE.png",
        ),
    ] = None,
) -> None:
    """Migrate one process between two nodes; print the phase timeline and the metrics."""
    from rhodos.experiment import run_migration, scenario_row
    from rhodos.experiment.trace import TraceRecorder

    scenario = _scenario(ctx.params)
    params = _key_values("--param", param, "max_rounds=3")
    if trace is not None:
        writable_file(trace, "--trace file")  # checked before the run, written after it
    recorder = TraceRecorder(_not_baseline) if trace is not None else None
    chart = _ChartOutput(timeline, scenario) if timeline is not None else None
    observers = run_observer(ctx, recorder, chart and chart.recorder)
    record = run_migration(scenario, strategy, params, observe=observers)
    drawn = chart.write(record) if chart is not None else ()
    if as_json:
        typer.echo(json.dumps(scenario_row(scenario, record)))
    else:
        console.print(
            f"[bold]{record.strategy}[/] migrating process {record.pid} from node "
            f"{record.source} to node {record.destination}: {_describe(scenario)}"
        )
        phases = Table(title="Phases (simulated time)")
        phases.add_column("phase")
        phases.add_column("t (ms)", justify="right")
        phases.add_column("+ since request (ms)", justify="right")
        for phase, t in record.phases:
            phases.add_row(phase, f"{t * 1e3:.3f}", f"{(t - record.requested_at) * 1e3:.3f}")
        console.print(phases)
        if record.ok:
            console.print(_one_record(record))
    # The result is printed first: a trace that cannot be written loses nothing.
    if recorder is not None and trace is not None:
        write_output(trace, "--trace file", recorder.write)
        if not as_json:
            console.print(f"wrote {trace} (open it at ui.perfetto.dev)", highlight=False)
    if drawn and not as_json:
        console.print(f"wrote {drawn[0]} (its data: {drawn[1]})", highlight=False)
    if not record.ok:
        _refusals(scenario, [record])
        raise typer.Exit(REFUSED)


class _ChartOutput:
    """``--timeline``: the path checked before the run, the recorder, the chart after it."""

    def __init__(self, path: Path, scenario: Scenario) -> None:
        from rhodos.experiment.chart import check_chart_path
        from rhodos.experiment.sequence import SequenceRecorder

        self.path = check_chart_path(path)
        writable_file(self.path, "--timeline file")  # checked before the run
        self.scenario = scenario
        self.recorder = SequenceRecorder(_not_baseline)

    def write(self, record: MigrationRecord) -> tuple[Path, Path]:
        """Draw the recorded migration; the picture and its data."""
        from rhodos.experiment.chart import write_chart

        title = (
            f"{record.strategy}: process {record.pid} from node {record.source} "
            f"to node {record.destination}" + ("" if record.ok else " (refused)")
        )
        sequence = self.recorder.sequence(record, title)
        return write_chart(sequence, self.path, subtitle=_describe(self.scenario))


def _one_record(record: MigrationRecord) -> Table:
    """Every compared metric of one migration, one per line, in the tables' units."""
    row = record.metrics()
    table = Table(title="Migration metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for name in COMPARED:
        unit, scale = metric_unit(name, [row[name]])
        value = row[name]
        cell = MISSING if value is None else short_number(value / scale, metric(name).is_count)
        table.add_row(metric(name).label, cell, unit or metric(name).unit)
    return table


def comparison_tables(records: list[MigrationRecord], names: list[str], width: int) -> list[Table]:
    """One row per strategy, a column per metric; a refused row says so in its cells."""
    rows = [r.metrics() for r in records]

    def cell(name: str, row: Mapping[str, Any], scale: float) -> str:
        if row["refused"] is not None:
            return "refused"
        if row["failed"] is not None:
            return "failed"
        value = row[name]
        return MISSING if value is None else short_number(value / scale, metric(name).is_count)

    strategies = Column("strategy", tuple(r.strategy for r in records), key=True, numeric=False)
    columns = [strategies, *metric_columns(names, rows, cell)]
    return fitted(
        "Migration metrics",
        columns,
        width,
        style=lambda row: "" if records[row].ok else "red",
    )


@app.command(
    "compare",
    epilog="Exit status: 0 done (refusals are results); 2 bad input; 4 a run broke an "
    "invariant (shown).",
)
@clear_errors
def compare_command(
    ctx: typer.Context,
    profile: ProfileOption = "sun3-ethernet",
    memory: MemoryOption = "1MiB",
    dirty_rate: DirtyOption = 20.0,
    touch_fraction: TouchOption = 0.5,
    cpu_seconds: CpuOption = None,
    workload: WorkloadOption = "memory-writer",
    workload_param: WorkloadParamOption = None,
    nodes: NodesOption = 2,
    node_memory: NodeMemoryOption = None,
    topology: TopologyOption = None,
    home_calls: HomeCallsOption = 0.0,
    seed: SeedOption = 0,
    at: AtOption = 0.5,
    loops: LoopsOption = 1,
    open_files: OpenFilesOption = 0,
    dirty_file_blocks: DirtyFileBlocksOption = 0,
    metric_names: MetricOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write the rows as CSV.")] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a chart of the metrics (PNG).")
    ] = None,
    trace: TraceOption = None,
) -> None:
    """Every registered strategy on the same workload and seed: a table and a chart.

    A refused migration is a row marked refused (empty metrics in --json and --csv, whose
    ``refused`` column says why), counted below the table with what would let it happen.
    After the runs, the invariants that need no oracle are checked on every one (see
    ``rhodos.testing.audit_run``): the table says they hold, or shows each violation.
    ``--trace`` writes every strategy's run into ONE timeline file, each run in its own
    pid range (node N of the i-th strategy, counting from 1, is pid ``100 * i + N``), on
    one time axis.
    """
    import csv

    from rhodos.experiment import compare, scenario_row
    from rhodos.experiment.trace import TraceRecorder

    names = chosen_metrics(metric_names, TABLE_METRICS)
    scenario = _scenario(ctx.params)
    if plot is not None:  # matplotlib is imported only when a chart is drawn
        from rhodos.experiment.plot import comparison_path

        plot = comparison_path(plot)  # a folder gets compare.png
    for path, what in ((csv_path, "--csv file"), (plot, "--plot file"), (trace, "--trace file")):
        if path is not None:
            writable_file(path, what)  # checked before the runs, written after them
    recorder = TraceRecorder(_not_baseline) if trace is not None else None
    runs: dict[str, Any] = {}

    def keep(label: str, cluster: Any) -> None:
        runs[label] = cluster

    with progress_bar("compare", enabled=console.is_terminal and not as_json) as update:
        records = compare(scenario, observe=run_observer(ctx, recorder, keep), progress=update)
    violations = _audit(records, runs)
    rows = [scenario_row(scenario, r) for r in records]

    def write_csv(path: Path) -> None:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def write_plot(path: Path) -> None:
        from rhodos.experiment.plot import plot_comparison

        plot_comparison(records, path, title=_describe(scenario))

    writers: list[tuple[Path | None, str, Callable[[Path], Any]]] = [
        (csv_path, "--csv file", write_csv),
        (plot, "--plot file", write_plot),
    ]
    if recorder is not None:
        writers.append((trace, "--trace file", recorder.write))
    if as_json:
        typer.echo(json.dumps(rows))
    else:
        console.print(f"[bold]Every strategy[/] on {_describe(scenario)}", highlight=False)
        for table in comparison_tables(records, names, console.width):
            console.print(table)
        refused = [r.strategy for r in records if not r.ok]
        if refused:
            console.print(
                f"[bold red]{len(refused)} of {len(records)} migrations {_did_not(records)}[/] "
                f"({', '.join(refused)}): no metric for them",
                highlight=False,
            )
        from rhodos.testing.audit import AUDITED

        checked = f"Checked on every run: {', '.join(AUDITED)}:"
        if violations:
            broke = sorted({strategy for strategy, _ in violations})
            console.print(
                f"{checked} [bold red]{len(violations)} violated[/] ({', '.join(broke)}), "
                "shown below.",
                highlight=False,
            )
        else:
            console.print(f"{checked} all hold.", highlight=False)
    # The results are printed first: a file that cannot be written loses nothing.
    for path, what, write in writers:
        if path is not None:
            write_output(path, what, write)
            if not as_json:
                console.print(f"wrote {path}", highlight=False)
    _refusals(scenario, records)
    for strategy, problem in violations:
        said = problem if problem.startswith(f"{strategy} ") else f"{strategy}: {problem}"
        err_console.print(f"[bold red]invariant violated:[/] {said}", highlight=False)
    if violations:
        raise typer.Exit(VIOLATED)


def _audit(records: list[MigrationRecord], runs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The violations :func:`rhodos.testing.audit_run` finds in the runs of ``records``,
    each with its strategy."""
    from rhodos.migration_manager import registered
    from rhodos.testing.audit import audit_run

    strategies = registered()
    return [
        (record.strategy, problem)
        for record in records
        for problem in audit_run(runs[record.strategy], record, strategies[record.strategy])
    ]

"""The commands that run the simulator: ``run``, ``strategies``, ``workloads``,
``migrate`` and ``compare``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import attrs
import typer
from rich.table import Table

from rhodos.cli.application import (
    ProfileOption,
    TraceOption,
    app,
    clear_errors,
    console,
    progress_bar,
    run_observer,
    writable_file,
    write_output,
)
from rhodos.kernel import ClusterConfig, MachineProfile
from rhodos.migration_manager.metrics import COMPARED, compared
from rhodos.workload import WORKLOADS

if TYPE_CHECKING:
    from rhodos.experiment import Scenario
    from rhodos.migration_manager import MigrationRecord

__all__ = ["compare_command", "migrate_command", "run", "strategies", "workloads"]


@app.command()
def workloads() -> None:
    """List the named workloads and their parameters."""
    table = Table(title="Workloads")
    table.add_column("name")
    table.add_column("parameters (default)")
    table.add_column("what it is")
    for name, factory in sorted(WORKLOADS.items()):
        fields = [f for f in attrs.fields(factory) if f.name != "name"]
        params = ", ".join(f"{f.name}={f.default!r}" for f in fields)
        table.add_row(name, params, (factory.__doc__ or "").strip().splitlines()[0])
    console.print(table)


#: The columns of ``rhodos run``'s two tables.
NODE_COLUMNS = (
    "node",
    "kind",
    "arch",
    "user CPU s",
    "kernel CPU s",
    "busy %",
    "procs",
    "faults",
    "msgs sent",
    "delivered",
    "forwarded",
)
PROCESS_COLUMNS = (
    "pid",
    "name",
    "home",
    "node",
    "state",
    "pages",
    "start s",
    "end s",
    "CPU s",
    "faults",
    "sent",
    "received",
)


def _right_aligned(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """A table of ``columns``, every cell right-aligned."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*row)
    return table


@app.command()
@clear_errors
def run(
    profile: ProfileOption = "sun3-ethernet",
    nodes: Annotated[int, typer.Option(help="Compute nodes.")] = 4,
    seed: Annotated[int, typer.Option(help="Root seed of every random stream.")] = 0,
    topology: Annotated[
        str | None, typer.Option(help="shared or star (default: the profile's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the default workload mix on a cluster and print per-node and per-process summaries."""
    from rhodos.experiment import run_demo

    config = ClusterConfig(nodes=nodes, profile=profile, seed=seed, topology=topology)
    result = run_demo(config)
    if as_json:
        typer.echo(json.dumps(attrs.asdict(result, recurse=True, value_serializer=_jsonable)))
        return
    console.print(
        f"[bold]{config.nodes} nodes, profile {config.profile.name}, "
        f"topology {config.effective_topology}, seed {config.seed}[/]: "
        f"all work done at t = {result.end_time:.4f} s (simulated)"
    )
    node_rows = (
        (
            str(n.node),
            n.kind,
            n.architecture,
            f"{n.cpu_user_s:.3f}",
            f"{n.cpu_kernel_s:.3f}",
            f"{100 * n.utilisation:.1f}",
            str(n.processes),
            str(n.faults),
            str(n.messages_sent),
            str(n.messages_delivered),
            str(n.messages_forwarded),
        )
        for n in result.nodes
    )
    console.print(_right_aligned("Nodes", NODE_COLUMNS, node_rows))
    process_rows = (
        (
            str(p.pid),
            p.name,
            str(p.home),
            str(p.node),
            p.state,
            str(p.pages),
            f"{p.created_at:.4f}",
            "-" if p.exited_at is None else f"{p.exited_at:.4f}",
            f"{p.cpu_seconds:.3f}",
            str(p.faults),
            str(p.messages_sent),
            str(p.messages_received),
        )
        for p in result.processes
    )
    console.print(_right_aligned("Processes", PROCESS_COLUMNS, process_rows))
    traffic = ", ".join(
        f"{kind} {result.network_bytes[kind]:,} B in {result.network_messages[kind]:,} msgs"
        for kind in sorted(result.network_bytes)
    )
    console.print(f"network: {traffic}")


@app.command()
def strategies(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the registered migration strategies and their parameters."""
    from rhodos.migration_manager import registered

    rows = []
    for name, cls in registered().items():
        params = {f.name: f.default for f in attrs.fields(cls) if f.init}
        rows.append(
            {"name": name, "summary": cls.summary, "residual": cls.residual, "params": params}
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Migration strategies")
    for column in ("name", "what it does", "residual dependency", "parameters (default)"):
        table.add_column(column)
    for row in rows:
        listed = ", ".join(f"{k}={v!r}" for k, v in row["params"].items()) or "-"
        table.add_row(row["name"], row["summary"], row["residual"], listed)
    console.print(table)


def _scenario(
    profile: str,
    memory: str,
    dirty_rate: float,
    touch_fraction: float,
    workload: str,
    seed: int,
    at: float,
) -> Scenario:
    """The scenario of the shared options of ``migrate`` and ``compare``."""
    from rhodos.experiment import Scenario

    return Scenario(
        profile=profile,
        memory_bytes=memory,
        dirty_rate=dirty_rate,
        touch_fraction=touch_fraction,
        workload=workload,
        seed=seed,
        migrate_at=at,
    )


def _strategy_params(values: list[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param takes key=value (e.g. max_rounds=3), got {item!r}")
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
WorkloadOption = Annotated[
    str, typer.Option("--workload", help="Workload whose first process is migrated.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Root seed.")]
AtOption = Annotated[float, typer.Option("--at", help="Simulated time of the migration request.")]


@app.command("migrate")
@clear_errors
def migrate_command(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="See `rhodos strategies`.")],
    profile: ProfileOption = "sun3-ethernet",
    memory: MemoryOption = "1MiB",
    dirty_rate: DirtyOption = 20.0,
    touch_fraction: TouchOption = 0.5,
    workload: WorkloadOption = "memory-writer",
    seed: SeedOption = 0,
    at: AtOption = 0.5,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Strategy parameter key=value.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    trace: TraceOption = None,
) -> None:
    """Migrate one process between two nodes; print the phase timeline and the metrics."""
    from rhodos.experiment import run_migration
    from rhodos.experiment.trace import TraceRecorder

    scenario = _scenario(profile, memory, dirty_rate, touch_fraction, workload, seed, at)
    if trace is not None:
        writable_file(trace, "--trace file")  # checked before the run, written after
    recorder = TraceRecorder(_not_baseline) if trace is not None else None
    record = run_migration(
        scenario, strategy, _strategy_params(param), observe=run_observer(ctx, recorder)
    )
    try:
        _print_migration(scenario, record, as_json)
    finally:  # the result is printed first: a trace that cannot be written loses nothing
        if recorder is not None and trace is not None:
            write_output(trace, "--trace file", recorder.write)
    if trace is not None and not as_json:
        console.print(f"wrote {trace} (open it at ui.perfetto.dev)")


def _print_migration(scenario: Scenario, record: MigrationRecord, as_json: bool) -> None:
    """The record as one JSON object, or as the phase timeline and the metrics table."""
    from rhodos.experiment import scenario_row

    if as_json:
        typer.echo(json.dumps(scenario_row(scenario, record)))
        return
    if record.refused:
        console.print(f"[bold red]refused:[/] {record.refused}", highlight=False)
        return
    console.print(
        f"[bold]{record.strategy}[/] migrating process {record.pid} "
        f"({scenario.memory_bytes:,} bytes, {scenario.workload}) from node {record.source} "
        f"to node {record.destination} on {scenario.profile.name}"
    )
    timeline = Table(title="Phases (simulated time)")
    timeline.add_column("phase")
    timeline.add_column("t (ms)", justify="right")
    timeline.add_column("+ since request (ms)", justify="right")
    for phase, t in record.phases:
        timeline.add_row(phase, f"{t * 1e3:.3f}", f"{(t - record.requested_at) * 1e3:.3f}")
    console.print(timeline)
    console.print(_metrics_table([record]))


def _not_baseline(label: str, _cluster: Any) -> bool:
    """Traces show the migrated runs, not the unmigrated baseline (the loggers see both)."""
    return label != "baseline"


def _metric_cell(unit: str, value: Any) -> str:
    """A metric in the table: seconds as ms, other floats to 3 decimals, counts with commas."""
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1e3:.2f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return f"{value:,}"


def _metrics_table(records: list[MigrationRecord]) -> Table:
    """One row per record: the strategy, every compared metric, why it was refused."""
    shown = compared(COMPARED)
    table = Table(title="Migration metrics")
    table.add_column("strategy")
    for m in shown:
        table.add_column(f"{m.column} ms" if m.unit == "s" else m.column, justify="right")
    table.add_column("refused")
    for record in records:
        row = record.metrics()
        cells = [_metric_cell(m.unit, row[m.name]) for m in shown]
        table.add_row(record.strategy, *cells, record.refused or "-")
    return table


@app.command("compare")
@clear_errors
def compare_command(
    ctx: typer.Context,
    profile: ProfileOption = "sun3-ethernet",
    memory: MemoryOption = "1MiB",
    dirty_rate: DirtyOption = 20.0,
    touch_fraction: TouchOption = 0.5,
    workload: WorkloadOption = "memory-writer",
    seed: SeedOption = 0,
    at: AtOption = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write the rows as CSV.")] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a grouped bar chart (PNG).")
    ] = None,
    trace: TraceOption = None,
) -> None:
    """Every registered strategy on the same workload and seed: a table and a chart.

    ``--trace`` writes every strategy's run into ONE timeline file, each run in its own
    pid range (node N of the i-th strategy, counting from 1, is pid ``100 * i + N``), on
    one time axis.
    """
    import csv

    from rhodos.experiment import compare, scenario_row
    from rhodos.experiment.plot import plot_comparison
    from rhodos.experiment.trace import TraceRecorder

    scenario = _scenario(profile, memory, dirty_rate, touch_fraction, workload, seed, at)
    for path, what in ((csv_path, "--csv file"), (plot, "--plot file"), (trace, "--trace file")):
        if path is not None:
            writable_file(path, what)  # checked before the runs, written after
    recorder = TraceRecorder(_not_baseline) if trace is not None else None
    with progress_bar("compare", enabled=console.is_terminal and not as_json) as update:
        records = compare(scenario, observe=run_observer(ctx, recorder), progress=update)
    rows = [scenario_row(scenario, r) for r in records]

    def write_csv(path: Path) -> None:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def write_plot(path: Path) -> None:
        plot_comparison(
            records,
            path,
            title=f"{scenario.workload}, {scenario.memory_bytes:,} B, "
            f"{scenario.dirty_rate:g} pages/s, {scenario.profile.name}",
        )

    if as_json:
        typer.echo(json.dumps(rows))
    else:
        console.print(
            f"[bold]Every strategy[/] on {scenario.workload} ({scenario.memory_bytes:,} bytes, "
            f"dirty {scenario.dirty_rate:g} pages/s, touching {scenario.touch_fraction:.0%}) "
            f"on {scenario.profile.name}, seed {scenario.seed}"
        )
        console.print(_metrics_table(records))
    # The results are printed first: a file that cannot be written loses nothing.
    writers: list[tuple[Path | None, str, Callable[[Path], Any]]] = [
        (csv_path, "--csv file", write_csv),
        (plot, "--plot file", write_plot),
    ]
    if recorder is not None:
        writers.append((trace, "--trace file", recorder.write))
    for path, what, write in writers:
        if path is not None:
            write_output(path, what, write)
            if not as_json:
                console.print(f"wrote {path}")


def _jsonable(_: Any, __: Any, value: Any) -> Any:
    if isinstance(value, MachineProfile):
        return value.name
    return value

"""The ``rhodos`` command: profiles, workloads, runs, migrations and comparisons."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import attrs
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from rhodos.kernel import ClusterConfig, MachineProfile, builtin_profiles, load_profile
from rhodos.kernel.profile import FIELD_UNITS
from rhodos.migration_manager import MigrationRecord
from rhodos.migration_manager.metrics import COMPARED, compared
from rhodos.workload import WORKLOADS

app = typer.Typer(
    help="rhodos: a simulated microkernel distributed OS for studying process migration.",
    no_args_is_help=True,
    add_completion=False,
)
# Piped output (files, CI logs) gets wide tables instead of 80 wrapped columns.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

F = TypeVar("F", bound=Callable[..., Any])

#: Where the global options leave the logging observer (``ctx.meta`` is shared by
#: every command's context).
LOG_OBSERVER = "rhodos.log_observer"


# -- global options: logging --------------------------------------------------------
@app.callback()
def global_options(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Print every simulated event as a readable line on stderr."
        ),
    ] = False,
    log_json: Annotated[
        Path | None,
        typer.Option(
            "--log-json",
            help="Write every simulated event as JSON lines to FILE.",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
) -> None:
    """rhodos: a simulated microkernel distributed OS for studying process migration."""
    if not verbose and log_json is None:
        return  # nothing subscribes: the runs pay nothing for logging
    from rhodos.experiment.logs import configure

    stream = None
    if log_json is not None:
        log_json.parent.mkdir(parents=True, exist_ok=True)
        stream = ctx.with_resource(log_json.open("w"))
    ctx.meta[LOG_OBSERVER] = configure(verbose=verbose, json_file=stream)


def run_observer(ctx: typer.Context, *more: Any) -> Any:
    """The ``observe=`` for a command's runs: the global logging's, then ``more`` (or None).

    Commands pass it to every run they make, so that ``-v`` and ``--log-json`` see them
    all; ``more`` are further Observers (a :class:`~rhodos.experiment.trace.TraceRecorder`).
    """
    observers = [o for o in (ctx.meta.get(LOG_OBSERVER), *more) if o is not None]
    if len(observers) <= 1:
        return observers[0] if observers else None

    def observe(label: str, cluster: Any) -> None:
        for observer in observers:
            observer(label, cluster)

    return observe


def clear_errors(func: F) -> F:
    """Turn input errors (``ValueError`` and its kin) into one clear line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, FileNotFoundError) as error:
            message = error.args[0] if error.args else str(error)
            err_console.print(f"[bold red]error:[/] {message}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar with ETA, shown from its first update; yields ``update(done, total)``."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )
    task = bar.add_task(description, total=None)
    started = False

    def update(done: int, total: int) -> None:
        nonlocal started
        if not started:
            bar.start()
            started = True
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if started:
            bar.stop()


ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile", "-p", help="A built-in profile name (see `rhodos profiles`) or a TOML file."
    ),
]


# -- profiles -----------------------------------------------------------------------
def _profile_row(profile: MachineProfile) -> dict[str, Any]:
    return {"name": profile.name, **{k: v for k, v in profile.to_dict().items() if k != "name"}}


def _fmt(value: Any, unit: str) -> str:
    if unit == "bit/s":
        return f"{value / 1e6:g} Mb/s"
    if unit == "s":
        return f"{value * 1e3:g} ms" if value >= 1e-3 else f"{value * 1e6:g} µs"
    if unit == "bytes" and isinstance(value, int) and value >= 1024 and value % 1024 == 0:
        return f"{value // 1024} KiB" if value < 1 << 20 else f"{value / (1 << 20):g} MiB"
    return str(value)


def _profiles_table(profiles: list[MachineProfile]) -> Table:
    table = Table(title="Machine profiles", show_lines=False)
    table.add_column("field")
    for profile in profiles:
        table.add_column(profile.name)
    for field, unit in FIELD_UNITS.items():
        if field in ("name", "description"):
            continue
        table.add_row(field, *(_fmt(getattr(p, field), unit) for p in profiles))
    return table


@app.command()
@clear_errors
def profiles(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    check: Annotated[
        Path | None, typer.Option("--check", help="Validate a profile TOML file and print it.")
    ] = None,
) -> None:
    """List the built-in machine profiles, or check a profile file."""
    chosen = [load_profile(check)] if check is not None else list(builtin_profiles().values())
    if as_json:
        typer.echo(json.dumps([_profile_row(p) for p in chosen], indent=2))
        return
    console.print(_profiles_table(chosen))
    if check is not None:
        profile = chosen[0]
        console.print(f"[green]{check}: valid profile {profile.name!r}[/]")
        for field, source in sorted(profile.sources.items()):
            console.print(f"  {field}: {source}", highlight=False)


# -- workloads ----------------------------------------------------------------------
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


# -- the demonstration run ----------------------------------------------------------
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
    table = Table(title="Nodes")
    for column in (
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
    ):
        table.add_column(column, justify="right")
    for n in result.nodes:
        table.add_row(
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
    console.print(table)
    table = Table(title="Processes")
    for column in (
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
    ):
        table.add_column(column, justify="right")
    for p in result.processes:
        table.add_row(
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
    console.print(table)
    traffic = ", ".join(
        f"{kind} {result.network_bytes[kind]:,} B in {result.network_messages[kind]:,} msgs"
        for kind in sorted(result.network_bytes)
    )
    console.print(f"network: {traffic}")


# -- strategies, migrate, compare -------------------------------------------------------
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


def _scenario(**kwargs: Any) -> Any:
    from rhodos.experiment import Scenario

    return Scenario(**kwargs)


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
TraceOption = Annotated[
    Path | None,
    typer.Option(
        "--trace",
        help="Write the timeline as Chrome trace event JSON (open it at ui.perfetto.dev).",
        dir_okay=False,
        metavar="FILE.json",
    ),
]


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
    from rhodos.experiment import run_migration, scenario_row
    from rhodos.experiment.trace import TraceRecorder

    scenario = _scenario(
        profile=profile,
        memory_bytes=memory,
        dirty_rate=dirty_rate,
        touch_fraction=touch_fraction,
        workload=workload,
        seed=seed,
        migrate_at=at,
    )
    recorder = TraceRecorder(_not_baseline) if trace is not None else None
    record = run_migration(
        scenario, strategy, _strategy_params(param), observe=run_observer(ctx, recorder)
    )
    if recorder is not None and trace is not None:
        recorder.write(trace)
    row = scenario_row(scenario, record)
    if as_json:
        typer.echo(json.dumps(row))
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
    if trace is not None:
        console.print(f"wrote {trace} (open it at ui.perfetto.dev)")


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

    scenario = _scenario(
        profile=profile,
        memory_bytes=memory,
        dirty_rate=dirty_rate,
        touch_fraction=touch_fraction,
        workload=workload,
        seed=seed,
        migrate_at=at,
    )
    recorder = TraceRecorder(_not_baseline) if trace is not None else None
    with progress_bar("compare", enabled=console.is_terminal and not as_json) as update:
        records = compare(scenario, observe=run_observer(ctx, recorder), progress=update)
    if recorder is not None and trace is not None:
        recorder.write(trace)
    rows = [scenario_row(scenario, r) for r in records]
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with csv_path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    if plot is not None:
        plot_comparison(
            records,
            plot,
            title=f"{scenario.workload}, {scenario.memory_bytes:,} B, "
            f"{scenario.dirty_rate:g} pages/s, {scenario.profile.name}",
        )
    if as_json:
        typer.echo(json.dumps(rows))
        return
    console.print(
        f"[bold]Every strategy[/] on {scenario.workload} ({scenario.memory_bytes:,} bytes, "
        f"dirty {scenario.dirty_rate:g} pages/s, touching {scenario.touch_fraction:.0%}) "
        f"on {scenario.profile.name}, seed {scenario.seed}"
    )
    console.print(_metrics_table(records))
    for path in (csv_path, plot, trace):
        if path is not None:
            console.print(f"wrote {path}")


def _jsonable(_: Any, __: Any, value: Any) -> Any:
    if isinstance(value, MachineProfile):
        return value.name
    return value


def main() -> None:
    """Entry point for ``python -m rhodos``."""
    app()


# The commands of the experiment layer live in their own modules and register on `app`.
from rhodos import cli_reproduce, cli_sweep  # noqa: E402, F401

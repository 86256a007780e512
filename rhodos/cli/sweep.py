"""``rhodos sweep`` and ``rhodos plot``: a sweep config run, summarised and drawn."""

from __future__ import annotations

import math
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from rhodos.cli.application import (
    TraceOption,
    app,
    clear_errors,
    console,
    describe_os_error,
    fail,
    progress_bar,
    run_observer,
    say,
    writable_file,
    writable_folder,
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
    short_number,
)
from rhodos.experiment.interrupts import by_ctrl_c
from rhodos.migration_manager.metrics import metric
from rhodos.units import format_size

if TYPE_CHECKING:
    from rhodos.experiment.config import SweepConfig
    from rhodos.experiment.sweep import SweepResult
    from rhodos.experiment.trace import TraceRecorder


def _format(mean: float | None, half: float | None, scale: float, is_count: bool) -> str:
    """``mean ± half`` in the column's unit, four significant digits of the mean."""
    if mean is None:
        return MISSING
    if is_count and scale == 1.0:  # a mean of counts: one decimal (none for zero)
        text = f"{mean:,.{0 if mean == 0 else 1}f}"
    else:
        text = short_number(mean / scale)
    decimals = len(text.partition(".")[2])
    if half is not None and not math.isnan(half):
        # Runs equal but for float rounding give a half-width of ~1e-16 of the mean: 0.
        half = 0.0 if half <= 1e-9 * abs(mean) else half
        text += f" ± {half / scale:.{decimals}f}"
    return text


def _cell(axis: str, value: Any) -> str:
    """An axis value for the table (memory sizes in KiB or MiB)."""
    if value is None:
        return "-"
    if axis == "memory_bytes" and isinstance(value, int):
        return format_size(value)
    return str(value)


def summary_tables(
    summary: Sequence[Mapping[str, Any]], axes: Sequence[str], metrics: Sequence[str], width: int
) -> list[Table]:
    """Mean ± 95% confidence interval (Student t) of each metric, one row per point; the
    refused runs counted when there are any; in parts when ``width`` needs it."""
    columns = [
        Column(axis, tuple(_cell(axis, e.get(axis)) for e in summary), key=True, numeric=False)
        for axis in axes
    ]
    columns.append(Column("n", tuple(str(e["n"]) for e in summary), key=True))
    if any(e.get("refused") for e in summary):
        refused = tuple(str(e.get("refused", 0)) for e in summary)
        columns.append(Column("refused", refused, key=True))

    def cell(name: str, row: Mapping[str, Any], scale: float) -> str:
        entry = row["entry"]
        return _format(
            entry.get(f"{name}_mean"), entry.get(f"{name}_ci95"), scale, metric(name).is_count
        )

    # Each row: the means (which choose a column's unit) and the whole entry (its CIs).
    rows = [{**{m: e.get(f"{m}_mean") for m in metrics}, "entry": e} for e in summary]
    columns += metric_columns(metrics, rows, cell)
    return fitted("Mean ± 95% confidence interval (Student t) per point", columns, width)


def _plan_table(config: Any, plan: Any) -> Table:
    table = Table(title=f"Sweep {config.name!r}: {len(plan)} runs")
    table.add_column("key")
    table.add_column("values")
    for path in config.plugins:
        table.add_row("plugin", path)
    for axis in config.all_axes:
        table.add_row(f"{axis.name} (axis)", ", ".join(map(str, axis.values)))
    for key, value in config.fixed.items():
        table.add_row(key, str(value))
    for strategy, params in config.params.items():
        for key, value in params.items():
            table.add_row(f"{strategy}.{key}", str(value))
    table.add_row("points", str(plan.points))
    table.add_row(
        "replications", f"{config.replications} (seeds {', '.join(map(str, plan.seeds))})"
    )
    return table


@app.command()
@clear_errors
def sweep(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="The sweep's TOML file (see examples/).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Results folder (default: results/NAME).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Local worker processes (default: one per core; 1 runs serially)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Run on Dask: a scheduler address (tcp://host:8786), or `local` for a "
            "LocalCluster of --workers processes. Needs the `cluster` extra: "
            "pip install 'rhodos\\[cluster]'."
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish the sweep in --out: run only what is missing.")
    ] = False,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a config key, the value in TOML: replications=5, "
            'memory_bytes=\'["1MiB","4MiB"]\', params.precopy.max_rounds=3.',
        ),
    ] = None,
    metric: MetricOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the config and print the plan; run nothing.")
    ] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    trace: TraceOption = None,
    trace_run: Annotated[
        int, typer.Option("--trace-run", help="Which run --trace records (its run number).")
    ] = 0,
) -> None:
    """Run every point of a sweep config, replicated; results.csv, manifest.json, a summary."""
    from rhodos.experiment.config import SweepConfig
    from rhodos.experiment.executor import RunFailed, make_executor
    from rhodos.experiment.sweep import run_sweep

    chosen = chosen_metrics(metric, TABLE_METRICS)
    settings = SweepConfig.from_toml(config, overrides or [])
    plan = settings.plan()
    if trace is not None and not 0 <= trace_run < len(plan):
        raise ValueError(f"--trace-run must be a run number 0..{len(plan) - 1}, got {trace_run}")
    if dry_run:
        console.print(_plan_table(settings, plan))
        return
    folder = out if out is not None else Path("results") / settings.name
    # Every output is checked before the first run: no sweep ends in "permission denied".
    writable_folder(folder, "--out folder")
    if trace is not None:
        writable_file(trace, "--trace file")
    executor = make_executor(workers, scheduler)
    try:
        console.print(
            f"[bold]{escape(settings.name)}[/]: {len(plan)} runs ({plan.points} points x "
            f"{settings.replications} replications) -> {escape(str(folder))}"
        )
        recorder = None
        if trace is not None:
            from rhodos.experiment.trace import TraceRecorder

            recorder = TraceRecorder()
        with progress_bar("sweep", enabled=not no_progress) as update:
            result = run_sweep(
                settings,
                folder,
                executor=executor,
                resume=resume,
                progress=update,
                trace_run=trace_run if recorder is not None else None,
                observe=run_observer(ctx, recorder),
            )
    except RunFailed as error:
        say(f"error: {error}")
        say(
            f"finished runs are in {folder / 'results.csv'}; after a fix, "
            f"`rhodos sweep {config} --out {folder} --resume` runs the rest"
        )
        raise typer.Exit(1) from None
    except OSError as error:  # the disk filled up, or the folder went away, mid-sweep
        fail(
            f"{describe_os_error(error)}; the finished runs are in {folder / 'results.csv'}: "
            f"after a fix, `rhodos sweep {config} --out {folder} --resume` runs the rest"
        )
    except KeyboardInterrupt:
        _interrupted(config, folder)
    finally:
        executor.close()
    try:
        _report(settings, folder, chosen, result, trace, recorder, trace_run)
    except BaseException as error:
        if by_ctrl_c(error):  # the sweep is complete; its summary was being printed
            _interrupted(config, folder)
        raise


def _interrupted(config: Path, folder: Path) -> NoReturn:
    """Say how to finish an interrupted sweep; exit 130, as a shell does after Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping already: once is enough
    say(f"interrupted: `rhodos sweep {config} --out {folder} --resume` finishes the sweep")
    raise typer.Exit(130) from None


def _report(
    settings: SweepConfig,
    folder: Path,
    chosen: list[str],
    result: SweepResult,
    trace: Path | None,
    recorder: TraceRecorder | None,
    trace_run: int,
) -> None:
    """The summary of a finished sweep, the files it wrote, and its trace."""
    from rhodos.experiment.results import ResultsFile
    from rhodos.experiment.stats import summarize

    axes = [a.name for a in settings.all_axes]
    rows = ResultsFile(folder / "results.csv").rows()
    for table in summary_tables(summarize(rows, axes, chosen), axes, chosen, console.width):
        console.print(table)
    console.print(
        f"{result.ran} runs in {result.wall_s:.1f} s on {result.executor}"
        + (f" ({result.skipped} already done)" if result.skipped else "")
    )
    for path in result.files:
        console.print(f"wrote {path}", highlight=False)
    if trace is not None and recorder is not None:
        if recorder.labels:
            write_output(trace, "--trace file", recorder.write)
            console.print(f"wrote {trace} (run {trace_run})", highlight=False)
        else:
            say(f"run {trace_run} was already done: no trace written")


@app.command()
@clear_errors
def plot(
    folder: Annotated[Path, typer.Argument(help="A sweep's results folder.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Figures folder (default: FOLDER/figures).")
    ] = None,
    metric: MetricOption = None,
) -> None:
    """The standard figures of a sweep: each metric against each axis, PNG and SVG."""
    from rhodos.experiment.figures import PLOT_METRICS, plot_sweep

    chosen = chosen_metrics(metric, PLOT_METRICS)
    if not folder.is_dir():
        raise ValueError(
            f"{folder}: {'is not a folder' if folder.exists() else 'no such folder'}"
            "; give a sweep's results folder (the --out of `rhodos sweep`)"
        )
    writable_folder(out if out is not None else folder / "figures", "--out folder")
    for path in plot_sweep(folder, out, chosen):
        console.print(f"wrote {path}", highlight=False)

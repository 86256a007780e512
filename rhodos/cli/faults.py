"""The ``rhodos faults`` command: a cluster run with random failures, from the command line.

:func:`faults` is registered on the ``rhodos`` application. It checks every option before
it runs anything: a bad value gets one line naming what is wrong and what is allowed,
and the exit status 2.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rhodos.cli.application import app, fail
from rhodos.faults.run import FaultsConfig, FaultsReport, run_faults

__all__ = ["faults", "render"]


def render(report: FaultsReport) -> str:
    """The report as the command prints it."""
    cfg = report.config
    detection = (
        f"{report.detection_mean_s:.3g} s after the crash on average"
        if report.detection_mean_s is not None
        else "no crash to detect"
    )
    lines = [
        f"{cfg.nodes} nodes, strategy {cfg.strategy}, MTTF {cfg.mttf_s:g} s, MTTR "
        f"{cfg.mttr_s:g} s, checkpoint every {cfg.checkpoint_interval_s:g} s, "
        f"{cfg.duration_s:g} s of arrivals (seed {cfg.seed})",
        f"crashes / recoveries      {report.crashes} / {report.recoveries} ({detection})",
        f"processes completed       {report.processes_completed} of {report.processes_started}",
        f"restarts                  {report.restarts}",
        f"work lost                 {report.work_lost_cpu_s:.4g} CPU-seconds "
        f"({report.work_reexecuted_cpu_s:.4g} run again)",
        f"checkpoints               {report.checkpoints} ({report.checkpoint_bytes:,} bytes)",
        f"migrations                {report.migrations}: {report.migrations_completed} completed, "
        f"{report.migrations_refused} refused, {report.migrations_aborted} aborted "
        f"({report.migrations_rolled_back} rolled back)",
        f"messages undeliverable    {report.messages_undeliverable} (reported to their senders)",
        f"processes lost            {report.processes_lost}",
        f"processes duplicated      {report.processes_duplicated}",
        f"talking processes         {report.talking_completed} of {report.talking_processes} "
        f"completed; {report.messages_sent} messages",
        f"messages lost             {report.messages_lost}",
        f"messages duplicated       {report.messages_duplicated}",
        f"messages returned         {report.messages_returned} (receiver ended for good)",
    ]
    if report.processes_unfinished:
        lines.append(f"unfinished at the horizon {report.processes_unfinished}")
    return "\n".join(lines)


@app.command("faults")
def faults(
    strategy: Annotated[
        str, typer.Option("--strategy", help="Migration strategy of the load sharing.")
    ] = "eager",
    nodes: Annotated[int, typer.Option("--nodes", help="Compute nodes.")] = 4,
    mttf: Annotated[
        float, typer.Option("--mttf", help="Mean time to failure of each node, seconds.")
    ] = 200.0,
    mttr: Annotated[float, typer.Option("--mttr", help="Mean time to repair, seconds.")] = 20.0,
    checkpoint_interval: Annotated[
        float,
        typer.Option("--checkpoint-interval", help="Every process is checkpointed this often, s."),
    ] = 10.0,
    duration: Annotated[
        float, typer.Option("--duration", help="Seconds of process arrivals.")
    ] = 600.0,
    seed: Annotated[int, typer.Option("--seed", help="Root seed of the run.")] = 0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the summary.")
    ] = False,
) -> None:
    """Run a cluster with random node failures, checkpoints and load sharing; count what
    was completed, restarted, lost and duplicated."""
    config = FaultsConfig(
        strategy=strategy,
        nodes=nodes,
        mttf_s=mttf,
        mttr_s=mttr,
        checkpoint_interval_s=checkpoint_interval,
        duration_s=duration,
        seed=seed,
    )
    problems = config.problems()
    if problems:
        fail(problems[0])
    report = run_faults(config)
    if json_output:
        typer.echo(json.dumps(report.as_json(), sort_keys=True))  # every number is finite
    else:
        typer.echo(render(report))

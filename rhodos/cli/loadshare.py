"""The ``rhodos loadshare`` command: a load-sharing study from the command line.

:func:`loadshare` is registered on the ``rhodos`` application. It checks every option before it runs
anything: a bad value gets one line naming what is wrong and what is allowed, and the
exit status 2.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer

from rhodos.cli.application import app, fail
from rhodos.load.presets import PRESETS
from rhodos.load.queueing import mm1_response
from rhodos.load.run import COSTS, LoadShareConfig, LoadShareResult, run_loadshare
from rhodos.load.workload import SERVICE_FORMS, ServiceError, parse_service

__all__ = ["loadshare", "render"]


def _clean(value: Any) -> Any:
    """JSON has no NaN: a number that is not one becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    return value


def render(result: LoadShareResult) -> str:
    """The study's summary as the command prints it."""
    cfg = result.config
    ci = result.ci95("mean_response_s")
    runs = len(result.replications)
    interval = f"  ± {ci:.4g} (95% CI over {runs} runs)" if ci is not None else ""
    settings = cfg.settings()
    policies = ", ".join(
        f"{kind} {getattr(settings, kind).name}"
        for kind in ("transfer", "location", "selection", "information")
    )
    lines = [
        f"{cfg.nodes} nodes, {cfg.service.spec} demands at rho {cfg.rho:.3g} per node, "
        f"policy {cfg.policy} ({policies}), migration cost {cfg.migration_cost}",
        f"mean response time   {result.mean_response_s:.4g} s{interval}",
        f"mean slowdown        {result.mean_slowdown:.4g}",
        f"slowdown > 3         {result.frac_slowdown_gt3:.2%}",
        f"migrated             {result.frac_migrated:.2%}",
        f"processes            {result.processes:,}",
    ]
    if cfg.policy == "none":
        lines.append(
            f"M/M/1 (and M/G/1-PS) predicts a mean response time of "
            f"{mm1_response(cfg.rho, cfg.service.mean):.4g} s"
        )
    refused = sum(r.refused for r in result.replications)
    unfinished = sum(r.unfinished for r in result.replications)
    if refused or unfinished:
        lines.append(f"not measured: {refused} refused (no memory), {unfinished} unfinished")
    return "\n".join(lines)


@app.command("loadshare")
def loadshare(
    nodes: Annotated[int, typer.Option("--nodes", help="Compute nodes.")] = 4,
    arrival_rate: Annotated[
        float,
        typer.Option(
            "--arrival-rate",
            help="Poisson arrivals per node per second; with mean demand 1 s it is the load rho.",
        ),
    ] = 0.5,
    service: Annotated[
        str, typer.Option("--service", help=f"CPU demands: {SERVICE_FORMS}.", metavar="SPEC")
    ] = "exp:1",
    policy: Annotated[
        str, typer.Option("--policy", help=f"Load-sharing policy: {', '.join(PRESETS)}.")
    ] = "none",
    d: Annotated[int | None, typer.Option("--d", help="Choices of power-of-d.")] = None,
    threshold: Annotated[
        int | None, typer.Option("--threshold", help="Queue length T a node keeps without sharing.")
    ] = None,
    probe_limit: Annotated[
        int | None, typer.Option("--probe-limit", help="Nodes probed at most per decision.")
    ] = None,
    information: Annotated[
        str | None,
        typer.Option("--information", help="Replace the information policy (none, probe, ...)."),
    ] = None,
    transfer: Annotated[
        str | None,
        typer.Option("--transfer", help="Replace the transfer policy (sender, receiver, ...)."),
    ] = None,
    location: Annotated[
        str | None,
        typer.Option("--location", help="Replace the location policy (random, shortest, ...)."),
    ] = None,
    selection: Annotated[
        str | None,
        typer.Option("--selection", help="Replace the selection policy (birth, newest, ...)."),
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help="Migration strategy of preemptive policies.")
    ] = "eager",
    migration_cost: Annotated[
        str,
        typer.Option(
            "--migration-cost",
            help="zero: the kernel charges nothing (queueing models); model: the profile's costs.",
        ),
    ] = "zero",
    profile: Annotated[
        str, typer.Option("--profile", help="Machine profile (built-in name or TOML file).")
    ] = "sun3-ethernet",
    duration: Annotated[
        float, typer.Option("--duration", help="Seconds of arrivals measured (warm-up included).")
    ] = 100.0,
    warmup: Annotated[
        float, typer.Option("--warmup", help="Seconds of arrivals not measured.")
    ] = 10.0,
    replications: Annotated[
        int, typer.Option("--replications", help="Independent runs (for the 95% CI).")
    ] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Root seed of the study.")] = 0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the summary.")
    ] = False,
) -> None:
    """Share load on a cluster: Poisson arrivals per node, one policy, measured response."""
    if migration_cost not in COSTS:
        fail(f"--migration-cost must be one of {', '.join(COSTS)}, got {migration_cost!r}")
    try:
        demands = parse_service(service)
    except ServiceError as error:
        fail(f"--service: {error}")
    config = LoadShareConfig(
        nodes=nodes,
        arrival_rate=arrival_rate,
        service=demands,
        policy=policy,
        d=d,
        threshold=threshold,
        probe_limit=probe_limit,
        information=information,
        transfer=transfer,
        location=location,
        selection=selection,
        strategy=strategy,
        migration_cost=migration_cost,
        profile=profile,
        duration_s=duration,
        warmup_s=warmup,
        replications=replications,
        seed=seed,
    )
    problems = config.problems()
    if problems:
        fail(problems[0])
    result = run_loadshare(config)
    if json_output:
        typer.echo(json.dumps(_clean(result.as_json()), sort_keys=True))
    else:
        typer.echo(render(result))

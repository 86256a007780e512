"""``rhodos run SCENARIO.toml``: a scenario file's runs, with per-node and per-process
summaries (one point) or one row per point of its sweep axes."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import typer

from rhodos.cli.application import console
from rhodos.cli.loadshare import _clean, render
from rhodos.cli.tables import Column, fitted

__all__ = ["parse_sets", "run_scenario"]


def parse_sets(sets: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` overrides; VALUE is read as a TOML value (a list makes an axis),
    else as text."""
    out: dict[str, Any] = {}
    for item in sets:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE (e.g. policy.name=random), got {item!r}")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        out[key.strip()] = value
    return out


def _table(title: str, headings: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    columns = [
        Column(heading, tuple(row[i] for row in rows), key=i == 0)
        for i, heading in enumerate(headings)
    ]
    for table in fitted(title, columns, console.width):
        console.print(table)


def run_scenario(path: str, sets: Sequence[str], processes: int, as_json: bool) -> None:
    """Run the scenario at ``path`` (with ``sets`` applied) and print what it measured."""
    from rhodos.load.run import run_loadshare, simulate
    from rhodos.load.scenario import load_scenario

    if processes < 0:
        raise ValueError(f"--processes must be >= 0, got {processes}")
    scenario = load_scenario(path).with_overrides(parse_sets(sets))
    points = scenario.points()
    configs = [scenario.config(point) for point in points]  # every point checked first
    if len(points) > 1:
        results = [run_loadshare(config) for config in configs]
        if as_json:
            listed = [{**p, **_clean(r.as_json())} for p, r in zip(points, results, strict=True)]
            typer.echo(json.dumps(listed, indent=2))
            return
        headings = [*points[0], "mean response s", "slowdown", "> 3", "migrated", "processes"]
        rows = [
            [
                *(str(v) for v in point.values()),
                f"{r.mean_response_s:.4g}",
                f"{r.mean_slowdown:.4g}",
                f"{r.frac_slowdown_gt3:.2%}",
                f"{r.frac_migrated:.2%}",
                f"{r.processes:,}",
            ]
            for point, r in zip(points, results, strict=True)
        ]
        _table(f"{scenario.name}: {len(points)} points", headings, rows)
        return
    config = configs[0]
    done = simulate(config, keep=True)
    cluster, rep = done.cluster, done.replication
    kept = done.processes
    node_rows = []
    now = max(cluster.now, 1e-12)
    for node in cluster.nodes:
        stats = node.statistics("load")
        cpu = node.cpu.statistics()
        mean = rep.node_mean_response_s[node.node_id] if rep.node_mean_response_s else math.nan
        node_rows.append(
            {
                "node": node.node_id,
                "profile": node.profile.name,
                "arch": node.architecture,
                "arrived": sum(1 for p in kept if p[1] == node.node_id),
                "mean_response_s": mean,
                "spawned": stats.spawned,
                "sent_away": stats.placed_remote,
                "migrated_in": stats.remote_execs_served,
                "migrations_out": stats.migrations_completed,
                "busy": (cpu.user_seconds + cpu.kernel_seconds) / now,
            }
        )
    proc_rows = []
    for pid, origin, arrived, demand, response in kept:
        alone = demand / cluster.nodes[origin].profile.cpu_speed
        proc_rows.append(
            {
                "pid": pid,
                "arrived_on": origin,
                "ended_on": cluster.location_of.get(pid, origin),
                "arrived_s": arrived,
                "demand_s": demand,
                "response_s": response,
                "slowdown": response / alone if alone > 0 else math.nan,
            }
        )
    owners = _owners(done) if config.owners is not None else None
    if as_json:
        fields = attrs.asdict(rep, recurse=False)
        summary = {k: v for k, v in fields.items() if isinstance(v, int | float | str)}
        out = {
            "scenario": scenario.name,
            "summary": summary,
            "nodes": node_rows,
            "processes": proc_rows,
            **({"owners": owners} if owners is not None else {}),
        }
        typer.echo(json.dumps(_clean(out), indent=2, default=_jsonable))
        return
    from rhodos.load.study import LoadShareResult

    console.print(f"[bold]{scenario.name}[/] ({path}), seed {config.seed}", highlight=False)
    console.print(render(LoadShareResult(config, (rep,))), highlight=False)
    if owners is not None:
        console.print(
            f"owners: hosts idle {owners['idle_fraction']:.1%} of the time by the rule; "
            f"{owners['evictions']} owner returns evicted {owners['evicted']} guests "
            f"(mean eviction {owners['mean_eviction_s']:.3g} s); guests ran "
            f"{owners['harvested_s']:.4g} CPU-s on borrowed hosts, "
            f"{owners['harvested_fraction']:.1%} of all processing",
            highlight=False,
        )
    _table(
        "Nodes",
        ["node", "profile", "arch", "arrived", "mean resp s", "spawned", "sent away",
         "remote in", "migr. out", "busy %"],
        [
            [
                str(n["node"]), n["profile"], n["arch"], str(n["arrived"]),
                f"{n['mean_response_s']:.4g}", str(n["spawned"]), str(n["sent_away"]),
                str(n["migrated_in"]), str(n["migrations_out"]), f"{100 * n['busy']:.1f}",
            ]
            for n in node_rows
        ],
    )  # fmt: skip
    slowest = sorted(proc_rows, key=lambda p: (-p["slowdown"], p["pid"]))[:processes]
    _table(
        f"Processes: the {len(slowest)} slowed down most, of {len(proc_rows):,} measured "
        "(--processes N for more, --json for all)",
        ["pid", "arrived on", "ended on", "arrived s", "demand s", "response s", "slowdown"],
        [
            [
                str(p["pid"]), str(p["arrived_on"]), str(p["ended_on"]), f"{p['arrived_s']:.3f}",
                f"{p['demand_s']:.4g}", f"{p['response_s']:.4g}", f"{p['slowdown']:.3g}",
            ]
            for p in slowest
        ],
    )  # fmt: skip


def _owners(done: Any) -> dict[str, float]:
    """What the owners' workstations gave: idle time, evictions, harvested CPU."""
    cluster, load = done.cluster, done.replication.load
    now = max(cluster.now, 1e-12)
    harvested = float(sum(node.foreign_cpu_s for node in cluster.nodes))
    cpu = float(sum(node.cpu.statistics().user_seconds for node in cluster.nodes))
    return {
        "idle_fraction": load.idle_s / (len(cluster.nodes) * now),
        "evictions": load.evictions,
        "evicted": load.evicted,
        "mean_eviction_s": load.eviction_s / load.evictions if load.evictions else math.nan,
        "harvested_s": harvested,
        "harvested_fraction": harvested / cpu if cpu else math.nan,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)

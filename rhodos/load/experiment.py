"""The classic-load-sharing experiment: the Load Manager against queueing theory and the
findings of Eager, Lazowska & Zahorjan and of Mitzenmacher.

Every run uses ``--migration-cost zero`` (:func:`~rhodos.load.run.ideal_profile`): the
kernel charges nothing, so the simulated cluster *is* the queueing model and must
reproduce it. Three parts (``experiments/classic-load-sharing/README.md`` says why
each is sized as it is):

* **No sharing is M/M/1.** A node alone is an M/M/1 queue with processor sharing: mean
  response ``1 / (1 - rho)``. Within 2% at rho = 0.5, 0.7 and 0.9. The nodes are
  independent, so the interval is Student-t over the per-node means.
* **Eager, Lazowska & Zahorjan (1986).** Random, threshold and shortest placement at
  birth (sender-initiated, threshold ``T``, probe limit 3) and receiver-initiated
  pulling, on 20 nodes; their qualitative findings become checked claims.
* **Mitzenmacher's supermarket model (2001).** Power-of-2 choices at 500 nodes and
  rho = 0.9 against the mean time in system of the model's fixed point, computed by
  integrating its differential equations (:mod:`rhodos.load.queueing`). Within 3%.

:func:`classic_load_sharing` runs it at a ``scale`` (1: the sizes of the expected
output; the tests run it at a small scale to check the machinery, not the figures)
and returns the rows; :func:`render_rows` prints them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import numpy as np

from rhodos.load.controls import controlled_mean, fifo_sojourns, relaxation_time
from rhodos.load.queueing import mm1_response, supermarket_response
from rhodos.load.run import LoadShareConfig, run_loadshare, simulate

__all__ = ["Row", "Sizes", "classic_load_sharing", "render_rows", "same_choices"]

ELZ = "Eager, Lazowska & Zahorjan, IEEE TSE 1986 (abstract)"
MITZENMACHER = "Mitzenmacher, IEEE TPDS 2001: fixed point of the supermarket equations"
QUEUEING = "M/M/1 (processor sharing): 1 / (1 - rho)"
#: The no-sharing runs warm up for this many relaxation times of the queue.
WARMUP_RELAXATIONS = 5


@attrs.frozen
class Row:
    """One claim: what the simulation gave, what it is compared with, and the verdict.

    ``reference`` is a number (the row passes when within ``tolerance_pct`` of it) or
    ``None`` for a qualitative claim, whose ``holds`` says whether the simulation shows it.
    """

    claim: str
    simulated: float | None
    reference: float | None
    unit: str
    ci95: float | None
    tolerance_pct: float | None
    holds: bool
    source: str

    @property
    def deviation_pct(self) -> float | None:
        """How far the simulation is from the reference, in percent of it."""
        if self.simulated is None or self.reference is None:
            return None
        return 100.0 * (self.simulated - self.reference) / self.reference


@attrs.frozen
class Sizes:
    """How big the runs are at scale 1 (nodes, seconds measured, replications)."""

    mm1: dict[float, tuple[int, float, int]] = attrs.field(
        factory=lambda: {  # rho: (nodes, measured s, replications); warm-up from rho
            0.5: (25, 2000.0, 1),
            0.7: (25, 2000.0, 1),
            0.9: (25, 4000.0, 1),
        }
    )
    elz_nodes: int = 20
    elz: tuple[float, float, int] = (100.0, 300.0, 1)  # warm-up, measured, replications
    market: tuple[int, float, float, int] = (500, 50.0, 100.0, 2)


def _study(
    nodes: int,
    rho: float,
    policy: str,
    run: tuple[float, float, int],
    scale: float,
    seed: int,
    **knobs: int,
) -> LoadShareConfig:
    """A study of ``run`` = (warm-up s, measured s, replications) at ``scale``: the times
    shrink with the scale (never below a few seconds), one replication below scale 1."""
    warmup, measured, replications = run
    warm = max(10.0, warmup * scale)
    return LoadShareConfig(
        nodes=nodes,
        arrival_rate=rho,
        policy=policy,
        duration_s=warm + max(20.0, measured * scale),
        warmup_s=warm,
        replications=replications if scale >= 1 else 1,
        seed=seed,
        d=knobs.get("d"),
        threshold=knobs.get("threshold"),
        probe_limit=knobs.get("probe_limit"),
    )


def _equal(
    claim: str, simulated: float, reference: float, ci: float | None, tol: float, source: str
) -> Row:
    holds = abs(simulated - reference) <= tol / 100 * reference
    return Row(claim, simulated, reference, "s", ci, tol, holds, source)


def _fact(claim: str, holds: bool, source: str) -> Row:
    return Row(claim, None, None, "", None, None, holds, source)


Progress = Callable[[str], None]


def _mm1_rows(sizes: Sizes, scale: float, seed: int, progress: Progress) -> list[Row]:
    """No sharing against M/M/1: a warm-up of five relaxation times, then each node's mean
    response, corrected by the control variate of :mod:`rhodos.load.controls`."""
    rows = []
    for rho, (nodes, measured, reps) in sizes.mm1.items():
        warmup = WARMUP_RELAXATIONS * relaxation_time(rho)
        config = _study(nodes, rho, "none", (warmup, measured, reps), scale, seed)
        # the warm-up is the queue's, whatever the scale: only the measurement shrinks
        config = attrs.evolve(
            config, warmup_s=warmup, duration_s=warmup + config.duration_s - config.warmup_s
        )
        progress(f"no sharing at rho {rho}")
        values, controls = [], []
        for replication in range(config.replications):
            done = simulate(config, replication, log=True)
            for node, (at, need) in enumerate(done.arrivals):
                window = (at >= config.warmup_s) & (at < config.duration_s)
                values.append(done.replication.node_mean_response_s[node])
                controls.append(float(fifo_sojourns(at, need)[window].mean()))
        got = controlled_mean(np.array(values), np.array(controls), mm1_response(rho))
        reference = mm1_response(rho)
        rows += [
            _equal(
                f"no sharing, rho {rho}: mean response (control variate, r2 {got.r2:.2f})",
                got.mean,
                reference,
                got.ci95,
                2.0,
                QUEUEING,
            ),
            Row(
                f"no sharing, rho {rho}: mean response, raw mean of {got.units} nodes' means",
                got.raw,
                reference,
                "s",
                got.raw_ci95,
                None,
                True,
                QUEUEING,
            ),
        ]
    return rows


def _elz(
    policy: str, rho: float, threshold: int, sizes: Sizes, scale: float, seed: int
) -> tuple[float, list[dict[int, tuple[int, float]]]]:
    """The cell's mean response over its replications, and per replication where each
    measured process ran and its response (pid -> (node, response s))."""
    config = _study(
        sizes.elz_nodes, rho, policy, sizes.elz, scale, seed, threshold=threshold, probe_limit=3
    )
    means, runs = [], []
    for replication in range(config.replications):
        done = simulate(config, replication, keep=True)
        means.append(done.replication.mean_response_s)
        where = done.cluster.location_of
        runs.append({pid: (where.get(pid, home), r) for pid, home, *_, r in done.processes})
    return float(np.mean(means)), runs


#: Two runs make the same choices when every measured process ran on the same node and
#: their responses agree within this (seconds). With free messages the only difference
#: between threshold (probes one node at a time) and shortest (probes in parallel) at
#: T = 1 is when probes land: a few 0.1 ns transits per placement, so identical choices
#: give responses within nanoseconds (1.7e-9 s measured at rho 0.9), while one different
#: choice moves responses by a fraction of the 1 s mean demand.
SAME_RESPONSE_S = 1e-6


def same_choices(
    first: list[dict[int, tuple[int, float]]], second: list[dict[int, tuple[int, float]]]
) -> bool:
    """Whether two cells placed every measured process alike (see :data:`SAME_RESPONSE_S`)."""
    if len(first) != len(second):
        return False
    for one, other in zip(first, second, strict=True):
        if one.keys() != other.keys():
            return False
        for pid, (node, response) in one.items():
            node2, response2 = other[pid]
            if node != node2 or abs(response - response2) > SAME_RESPONSE_S:
                return False
    return True


#: The loads and the (policy, threshold) cells of the Eager et al. part.
ELZ_LOADS = (0.5, 0.7, 0.9)
ELZ_CELLS = (
    ("none", 1),
    ("random", 1),
    ("threshold", 1),
    ("shortest", 1),
    ("threshold", 2),
    ("shortest", 2),
    ("receiver", 1),
)


def elz_rows(table: dict[tuple[str, float], float], alike: dict[float, bool]) -> list[Row]:
    """The rows of the Eager et al. part from its mean responses, keyed (cell, rho), and
    whether threshold and shortest made the same choices at T=1 at each load."""
    rows = [
        Row(f"{name}, rho {rho}: mean response", value, None, "s", None, None, True, ELZ)
        for (name, rho), value in table.items()
    ]

    def every(test: Callable[[float], bool]) -> bool:
        return all(test(rho) for rho in ELZ_LOADS)

    def ordered(rho: float) -> bool:
        return table["threshold T=1", rho] < table["random T=1", rho] < table["none T=1", rho]

    rows += [
        _fact(
            "random beats no sharing, and threshold beats random, at every load",
            every(ordered),
            ELZ,
        ),
        _fact(
            "threshold and shortest choose alike at T=1 (same node per process, within 1 us)",
            every(lambda r: alike[r]),
            "by construction",
        ),
        _fact(
            "little state comes close to more: threshold within 10% of shortest at T=2",
            every(lambda r: table["threshold T=2", r] <= 1.10 * table["shortest T=2", r]),
            ELZ,
        ),
        _fact(
            "sender-initiated beats receiver-initiated at light to moderate load (rho 0.5, 0.7)",
            all(table["threshold T=1", r] < table["receiver T=1", r] for r in (0.5, 0.7)),
            ELZ,
        ),
    ]
    return rows


def _elz_rows(sizes: Sizes, scale: float, seed: int, progress: Progress) -> list[Row]:
    table: dict[tuple[str, float], float] = {}
    alike: dict[float, bool] = {}
    for rho in ELZ_LOADS:
        choices = {}
        for policy, threshold in ELZ_CELLS:
            progress(f"{policy} T={threshold} at rho {rho}")
            mean, runs = _elz(policy, rho, threshold, sizes, scale, seed)
            table[(f"{policy} T={threshold}", rho)] = mean
            choices[policy, threshold] = runs
        alike[rho] = same_choices(choices["threshold", 1], choices["shortest", 1])
    return elz_rows(table, alike)


def _market_rows(sizes: Sizes, scale: float, seed: int, progress: Progress) -> list[Row]:
    nodes, warmup, measured, reps = sizes.market
    nodes = nodes if scale >= 1 else max(20, int(nodes * scale))
    config = _study(nodes, 0.9, "power-of-d", (warmup, measured, reps), scale, seed, d=2)
    progress(f"power-of-2 on {config.nodes} nodes at rho 0.9")
    result = run_loadshare(config)
    return [
        _equal(
            f"power-of-2, {config.nodes} nodes, rho 0.9: mean response",
            result.mean_response_s,
            supermarket_response(0.9, 2),
            result.ci95("mean_response_s"),
            3.0,
            MITZENMACHER,
        )
    ]


PARTS = ("mm1", "elz", "market")


def classic_load_sharing(
    scale: float = 1.0,
    *,
    parts: Sequence[str] = PARTS,
    seed: int = 1,
    progress: Progress | None = None,
    sizes: Sizes | None = None,
) -> list[Row]:
    """Run the experiment's ``parts`` at ``scale`` (``sizes``: the runs at scale 1, by
    default :class:`Sizes`'); the rows, in the order of the table."""
    unknown = [part for part in parts if part not in PARTS]
    if unknown:
        raise ValueError(f"unknown parts {unknown}; parts: {', '.join(PARTS)}")
    tell = progress or (lambda _: None)
    sizes = sizes or Sizes()
    runs = {"mm1": _mm1_rows, "elz": _elz_rows, "market": _market_rows}
    rows: list[Row] = []
    for part in PARTS:
        if part in parts:
            rows += runs[part](sizes, scale, seed, tell)
    return rows


def render_rows(rows: Sequence[Row]) -> str:
    """The rows as the expected output prints them: one line each, fixed columns."""
    lines = [f"{'claim':<88} {'simulated':>10} {'±95%':>8} {'reference':>10} {'dev %':>7}  verdict"]
    for row in rows:
        sim = f"{row.simulated:.4f}" if row.simulated is not None else "-"
        ci = f"{row.ci95:.4f}" if row.ci95 is not None else "-"
        ref = f"{row.reference:.4f}" if row.reference is not None else "-"
        dev = f"{row.deviation_pct:+.2f}" if row.deviation_pct is not None else "-"
        if row.reference is not None and row.tolerance_pct is None:
            verdict = "shown"
        elif row.reference is not None:
            verdict = (
                f"within {row.tolerance_pct:g}%" if row.holds else f"OFF (> {row.tolerance_pct:g}%)"
            )
        elif row.simulated is None:
            verdict = "holds" if row.holds else "DOES NOT HOLD"
        else:
            verdict = "shown"
        lines.append(f"{row.claim:<88} {sim:>10} {ci:>8} {ref:>10} {dev:>7}  {verdict}")
    return "\n".join(lines) + "\n"

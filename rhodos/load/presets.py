"""Named load-sharing policies: one name for a transfer, location, selection and
information policy that belong together, as the literature names them.

``rhodos loadshare --policy NAME`` picks one; ``--threshold``, ``--probe-limit`` and
``--d`` set the parameters of the policies that take them, and ``--information``,
``--transfer``, ``--location`` or ``--selection`` replace one part. Every preset is
built from the registry, so a policy added by a plugin combines the same way
(:func:`policy_settings`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from rhodos.load.registry import make_policy, registered
from rhodos.load.settings import Settings
from rhodos.validators import did_you_mean

__all__ = ["PRESETS", "Preset", "UnknownPreset", "policy_settings"]


class UnknownPreset(ValueError):
    """A ``--policy`` name that is not a preset."""


@attrs.frozen
class Preset:
    """A named policy: one transfer, location, selection and information policy."""

    summary: str
    transfer: str
    location: str
    selection: str
    information: str


#: The ``--policy`` names, in the order they are listed.
PRESETS: dict[str, Preset] = {
    "none": Preset(
        "no load sharing: every process runs where it arrives", "never", "local", "birth", "none"
    ),
    "random": Preset(
        "Eager et al.: an arrival that makes the queue exceed T goes to a random node",
        "sender", "random", "birth", "none",
    ),
    "round-robin": Preset(
        "every arrival goes to the next node in turn", "always", "round-robin", "birth", "none"
    ),
    "threshold": Preset(
        "Eager et al.: probe up to L nodes; the first within T with it takes it",
        "sender", "threshold", "birth", "none",
    ),
    "shortest": Preset(
        "Eager et al.: probe L nodes; the shortest takes it if within T with it",
        "sender", "shortest", "birth", "none",
    ),
    "power-of-d": Preset(
        "Mitzenmacher: join the shortest of d random queues",
        "always", "power-of-d", "birth", "none",
    ),
    "jsq": Preset(
        "join the shortest queue of all (a central load server told of every change)",
        "always", "jsq", "birth", "central",
    ),
    "least-loaded": Preset(
        "the least-loaded node of the node's load vector (MOSIX-style exchange)",
        "always", "least-loaded", "birth", "exchange",
    ),
    "receiver": Preset(
        "Eager et al.: a short queue probes for a long one and pulls a process",
        "receiver", "local", "newest", "none",
    ),
    "symmetric": Preset(
        "sender- and receiver-initiated together", "symmetric", "threshold", "newest", "none"
    ),
    "name-list": Preset(
        "Harchol-Balter & Downey: listed long-lived programs go to the least-loaded node",
        "always", "least-loaded", "names", "exchange",
    ),
    "age": Preset(
        "Harchol-Balter & Downey: migrate a process once its age > cost / (n - m)",
        "periodic", "least-loaded", "age", "exchange",
    ),
}  # fmt: skip


def _build(kind: str, name: str, knobs: dict[str, Any]) -> Any:
    """Policy ``name`` of ``kind``, with those of ``knobs`` it takes (unset ones left out)."""
    cls = registered(kind).get(name)
    fields = {f.name for f in attrs.fields(cls)} if cls is not None else set()
    params = {key: value for key, value in knobs.items() if key in fields and value is not None}
    return make_policy(kind, name, **params)


def policy_settings(
    policy: str,
    *,
    threshold: int | None = None,
    probe_limit: int | None = None,
    d: int | None = None,
    names: Iterable[str] | None = None,
    information: str | None = None,
    transfer: str | None = None,
    location: str | None = None,
    selection: str | None = None,
    strategy: Any = None,
    trader: int = 0,
    offer_period_s: float = 5.0,
) -> Settings:
    """The :class:`Settings` of the preset ``policy``, with its knobs and replacements.

    Raises:
        UnknownPreset: ``policy`` is not a preset (the message lists them).
        UnknownPolicy: a replacement names no registered policy.
    """
    preset = PRESETS.get(policy)
    if preset is None:
        raise UnknownPreset(
            f"unknown policy {policy!r}{did_you_mean(policy, PRESETS)}; "
            f"policies: {', '.join(PRESETS)}"
        )
    knobs = {"threshold": threshold, "probe_limit": probe_limit, "d": d, "names": names}
    return Settings(
        information=_build("information", information or preset.information, knobs),
        transfer=_build("transfer", transfer or preset.transfer, knobs),
        location=_build("location", location or preset.location, knobs),
        selection=_build("selection", selection or preset.selection, knobs),
        strategy=strategy,
        trader=trader,
        offer_period_s=offer_period_s,
    )
